import { Listr } from 'listr2'
import type { MoveEvent } from '../core/move/move.js'
import type { ProgressMode } from './fleet.js'

const STEP_TITLES: Record<string, string> = {
  prepared: 'prepare the target placement',
  capturing: "capture the tenant's writes",
  copied: "copy the tenant's tables",
  'caught-up': "catch up with the tenant's writes",
  fenced: "fence the tenant's writes",
  drained: 'drain the last writes',
  verified: 'verify row counts and checksums',
  switched: 'switch the placement',
  'source-removed': 'remove the source',
  done: 'lift the fence',
}
const STEPS = Object.keys(STEP_TITLES)

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)
const tableLine = (e: Extract<MoveEvent, { type: 'table' }>) =>
  `${e.name}: ${e.rows.toLocaleString('en-US')} rows, ${mb(e.bytes)} MB in ${e.ms} ms (${e.ms > 0 ? (e.bytes / 1024 / 1024 / (e.ms / 1000)).toFixed(1) : '-'} MB/s)`

/** Move progress: listr2 tasks per step on a terminal, plain lines in CI, nothing under --json. */
export function moveProgress(mode: ProgressMode): { onEvent: (e: MoveEvent) => void; finish: (error?: unknown) => Promise<void> } {
  if (mode === 'silent') return { onEvent() {}, async finish() {} }
  if (mode === 'plain') {
    return {
      onEvent(e) {
        if (e.type === 'table') process.stderr.write(`  ${tableLine(e)}\n`)
        else if (e.type === 'round') process.stderr.write(`  ${e.phase} round: ${e.entries} logged change(s), ${e.keys} row(s) replaced in ${e.ms} ms\n`)
        else if (e.type === 'step' && e.step !== 'copy-table') process.stderr.write(`${e.state === 'start' ? '…' : '✔'} ${STEP_TITLES[e.step] ?? e.step}\n`)
      },
      async finish() {},
    }
  }
  const gates = new Map(
    STEPS.map((s) => {
      let resolve!: () => void
      let reject!: (e: unknown) => void
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)))
      // Marks the rejection handled: listr shows the failed step, the command reports the error.
      promise.catch(() => undefined)
      return [s, { promise, resolve, reject, started: false }]
    }),
  )
  const outputs = new Map<string, (text: string) => void>()
  // Drawn from the first step on: a move refused while planning prints its error alone.
  const start = () =>
    new Listr(
      STEPS.map((step) => ({
        title: STEP_TITLES[step]!,
        task: async (_ctx: unknown, task: { output: string }) => {
          const lines: string[] = []
          outputs.set(step, (text) => {
            lines.push(text)
            task.output = lines.slice(-8).join('\n')
          })
          await gates.get(step)!.promise
        },
        rendererOptions: { persistentOutput: true },
      })),
      { concurrent: false, exitOnError: true, rendererOptions: { collapseSubtasks: false } },
    )
      .run()
      .catch(() => {
        // Safe to lose: listr's run fails with the step's own error, which the command reports.
        return undefined
      })
  let running: Promise<unknown> | undefined
  let current = 'prepared'
  return {
    onEvent(e) {
      running ??= start()
      if (e.type === 'table') outputs.get('copied')?.(tableLine(e))
      else if (e.type === 'round') outputs.get(e.phase === 'drain' ? 'drained' : 'caught-up')?.(`${e.entries} logged change(s), ${e.keys} row(s) in ${e.ms} ms`)
      else if (e.type === 'step' && e.step !== 'copy-table') {
        // Steps a resumed move already did are done at once.
        for (const s of STEPS.slice(0, STEPS.indexOf(e.step))) gates.get(s)!.resolve()
        current = e.step
        if (e.state === 'done') gates.get(e.step)!.resolve()
      }
    },
    async finish(error) {
      if (!running) return
      if (error) gates.get(current)?.reject(error)
      else for (const g of gates.values()) g.resolve()
      await running
    },
  }
}
