import type { Hook } from '@oclif/core'
import { JSON_SCHEMA_VERSION } from '../cli/base.js'
import { judgeNotFound } from '../cli/not-found.js'
import { colour, configureColour } from '../cli/output.js'
import { ExitCode } from '../core/errors.js'
import { redactAll } from '../db/redact.js'

/**
 * oclif's command_not_found hook: janua's own one-line error and hint (the closest command, or the
 * misplaced argument), the JSON envelope under --json, exit 2. Nothing is connected to.
 */
const hook: Hook.CommandNotFound = async function (opts) {
  const json = opts.argv?.includes('--json') || opts.id.split(':').includes('--json')
  configureColour(Boolean(json))
  const ids = opts.config.commands.filter((c) => !c.hidden).map((c) => c.id)
  const judged = judgeNotFound(
    opts.id
      .split(':')
      .filter((w) => w !== '--json')
      .join(':'),
    [...ids, ...opts.config.commands.flatMap((c) => c.aliases)],
    opts.config.topics.map((t) => t.name),
  )
  process.exitCode = ExitCode.usage
  if (json) {
    const envelope = {
      schemaVersion: JSON_SCHEMA_VERSION,
      ok: false,
      error: { code: 'command_not_found', message: judged.message, hint: judged.hint, exitCode: ExitCode.usage, suggestion: judged.suggestion ?? null },
    }
    process.stdout.write(`${redactAll(JSON.stringify(envelope, null, 2))}\n`)
  } else {
    process.stderr.write(`${colour.red('error')} ${redactAll(judged.message)}\n${colour.dim('hint')}  ${redactAll(judged.hint)}\n`)
  }
}

export default hook
