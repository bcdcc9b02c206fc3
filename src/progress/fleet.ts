/**
 * Fleet progress: on a terminal one live line (done / failed / remaining, rate, elapsed) drawn by
 * listr2 with failures listed as they happen; in CI plain lines every few seconds; under --json
 * nothing. The core only emits events; this turns them into output.
 */
export type ProgressMode = 'tty' | 'plain' | 'silent'

export function progressMode(json: boolean): ProgressMode {
  if (json) return 'silent'
  // A live line needs room: a narrow (or 0-column) terminal gets the plain lines, as CI does.
  return process.stderr.isTTY && !process.env.CI && process.env.TERM !== 'dumb' && (process.stderr.columns ?? 0) >= 40 ? 'tty' : 'plain'
}

export interface FleetProgress {
  start(total: number): void
  update(done: number, failed: number, total: number): void
  failure(line: string): void
  finish(): Promise<void>
}

function line(label: string, done: number, failed: number, total: number, startedAt: number): string {
  const elapsed = (Date.now() - startedAt) / 1000
  const rate = elapsed > 0 ? done / elapsed : 0
  return `${label}: ${done}/${total} done, ${failed} failed, ${total - done} remaining, ${rate.toFixed(1)}/s, ${elapsed.toFixed(1)}s`
}

export function fleetProgress(mode: ProgressMode, label: string): FleetProgress {
  const startedAt = Date.now()
  if (mode === 'silent') return { start() {}, update() {}, failure() {}, async finish() {} }

  if (mode === 'plain') {
    let lastPrint = 0
    let last = { done: 0, failed: 0, total: 0 }
    return {
      start(total) {
        last = { done: 0, failed: 0, total }
        process.stderr.write(`${label}: ${total} placement(s)\n`)
      },
      update(done, failed, total) {
        last = { done, failed, total }
        if (Date.now() - lastPrint >= 2000) {
          lastPrint = Date.now()
          process.stderr.write(`${line(label, done, failed, total, startedAt)}\n`)
        }
      },
      failure(text) {
        process.stderr.write(`FAILED ${text}\n`)
      },
      async finish() {
        process.stderr.write(`${line(label, last.done, last.failed, last.total, startedAt)}\n`)
      },
    }
  }

  let setTitle: (t: string) => void = () => {}
  let addOutput: (t: string) => void = () => {}
  let resolveTask: () => void = () => {}
  const taskDone = new Promise<void>((r) => (resolveTask = r))
  const failures: string[] = []
  // listr2 is loaded only to draw on a terminal: a --json or CI run does not pay for it.
  const running = import('listr2')
    .then(({ Listr }) =>
      new Listr(
        [
          {
            title: `${label}: planning`,
            task: async (_ctx, task) => {
              setTitle = (t) => (task.title = t)
              addOutput = (t) => {
                failures.push(t)
                task.output = failures.slice(-10).join('\n')
              }
              await taskDone
            },
            rendererOptions: { persistentOutput: true, outputBar: 10 },
          },
        ],
        { renderer: 'default', rendererOptions: { collapseSubtasks: false }, exitOnError: false },
      ).run(),
    )
    // The run's outcome is reported by the command whatever the display did: say why it is missing.
    .catch((error: Error) => void process.stderr.write(`progress display failed: ${error.message}\n`))
  return {
    start(total) {
      setTitle(line(label, 0, 0, total, startedAt))
    },
    update(done, failed, total) {
      setTitle(line(label, done, failed, total, startedAt))
    },
    failure(text) {
      addOutput(text)
    },
    async finish() {
      resolveTask()
      await running
    },
  }
}
