import chalk, { type ChalkInstance } from 'chalk'

/** The only place with chalk. Colour is off under NO_COLOR, TERM=dumb and --json. */
export function configureColour(json: boolean): void {
  if (json || process.env.NO_COLOR !== undefined || process.env.TERM === 'dumb') chalk.level = 0
}

export const colour: ChalkInstance = chalk

/** A plain column table: header, rows, padded to the widest cell. */
export function table(headers: string[], rows: (string | number)[][], options: { header?: boolean } = {}): string {
  const cells = [headers, ...rows.map((r) => r.map(String))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  return [...(options.header === false ? [] : [chalk.bold(line(headers))]), ...cells.slice(1).map(line)].join('\n')
}

/** Tab-separated rows for pipes: a tab or newline inside a cell becomes a space (one row a line, always). */
export function tsv(rows: (string | number)[][]): string {
  return rows.map((r) => r.map((c) => String(c).replace(/[\t\r\n]/g, ' ')).join('\t')).join('\n')
}

/** Whether stdout is a terminal: else output is for a program (tab-separated lists, no padding). */
export const stdoutIsTerminal = () => Boolean(process.stdout.isTTY)

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

export const statusColour = (status: string) =>
  status === 'active' || status === 'succeeded' ? chalk.green(status) : status === 'failed' ? chalk.red(status) : chalk.yellow(status)
