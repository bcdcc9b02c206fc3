import chalk, { type ChalkInstance } from 'chalk'

/** The only place with chalk. Colour is off under NO_COLOR, TERM=dumb and --json. */
export function configureColour(json: boolean): void {
  if (json || process.env.NO_COLOR !== undefined || process.env.TERM === 'dumb') chalk.level = 0
}

export const colour: ChalkInstance = chalk

/** A plain column table: header, rows, padded to the widest cell. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  return [chalk.bold(line(headers)), ...cells.slice(1).map(line)].join('\n')
}

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
