import { Command } from '@oclif/core/command'
import * as Errors from '@oclif/core/errors'
import * as Flags from '@oclif/core/flags'
import type { Interfaces } from '@oclif/core'
import { Janua } from '../core/context.js'
import { auditableControlPlane } from '../core/control-plane.js'
import { ExitCode, JanuaError, usageError } from '../core/errors.js'
import { recordAudit } from '../core/journal.js'
import { parseLockTimeout } from '../core/tenant-lock.js'
import { translateError } from '../db/errors.js'
import { redactAll } from '../db/redact.js'
import { lockWaitLine } from './lock-timeout.js'
import { colour, configureColour } from './output.js'
import { parseErrorDetail, parseErrorLine } from './parse-error.js'
import { checkTemplatesFolder } from '../core/templates-folder.js'

/** The version of every --json document's shape. */
export const JSON_SCHEMA_VERSION = 1

let stderrRedacted = false
/**
 * Progress renderers and warnings write to stderr directly: every chunk there goes through the
 * last redaction pass too (stdout is written only by say and logJson, which redact).
 */
function redactStderr(): void {
  if (stderrRedacted) return
  stderrRedacted = true
  const write = process.stderr.write.bind(process.stderr) as (chunk: unknown, ...rest: unknown[]) => boolean
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) =>
    write(
      typeof chunk === 'string' ? redactAll(chunk) : chunk instanceof Uint8Array ? redactAll(Buffer.from(chunk).toString('utf8')) : chunk,
      ...rest,
    )) as typeof process.stderr.write
}

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof JanuaCommand)['baseFlags'] & T['flags']>

/**
 * Every janua command: parses flags, calls one core function, returns its typed result (printed
 * as the one JSON document under --json). The one catch: errors become a message, a hint and an
 * exit code, never a stack trace.
 */
export abstract class JanuaCommand extends Command {
  static enableJsonFlag = true
  static baseFlags = {
    'database-url': Flags.string({
      summary: 'URL of the primary database (else JANUA_DATABASE_URL, DATABASE_URL, janua.config.json, the embedded server)',
      helpGroup: 'GLOBAL',
    }),
    templates: Flags.string({ summary: 'template folder (else JANUA_TEMPLATES, janua.config.json, the built-in templates)', helpGroup: 'GLOBAL' }),
  }

  /** Commands that read or apply templates: their folder is checked against the fleet first (exit 2 when it does not match). */
  static usesTemplates = false

  protected janua?: Janua
  private readonly startedAt = Date.now()

  async init(): Promise<void> {
    await super.init()
    configureColour(this.jsonEnabled())
    redactStderr()
    if (this.jsonEnabled() && this.argv.some((a) => a === '--format' || a.startsWith('--format='))) {
      this.parsed = true // refused before parsing: not oclif's "did not parse its arguments" case
      throw usageError('--format and --json cannot be used together', 'pass one: --json for the JSON document, --format for text or annotations')
    }
  }

  /** Every --json document carries the version of its shape (docs/json/): bumped only when a key changes meaning or goes. */
  protected toSuccessJson(result: unknown): unknown {
    if (result && typeof result === 'object' && !Array.isArray(result)) return { schemaVersion: JSON_SCHEMA_VERSION, ...result }
    return { schemaVersion: JSON_SCHEMA_VERSION, result }
  }

  /**
   * Opens the primary database (starting the embedded server if none is configured), with the
   * command's --lock-timeout (checked first: bad input leaves nothing behind) and a line on
   * stderr whenever it waits for a lock.
   */
  protected async open(flags: { 'database-url'?: string; templates?: string; 'lock-timeout'?: string }): Promise<Janua> {
    const lockTimeoutMs = parseLockTimeout(flags['lock-timeout'])
    this.janua = await Janua.open({ databaseUrl: flags['database-url'], templates: flags.templates, onNotice: (line) => process.stderr.write(`${colour.dim('note')}  ${line}\n`) })
    if ((this.constructor as typeof JanuaCommand).usesTemplates) await checkTemplatesFolder(this.janua)
    this.janua.lockWait = { lockTimeoutMs, onWait: this.jsonEnabled() ? undefined : (event) => process.stderr.write(redactAll(lockWaitLine(event))) }
    return this.janua
  }

  protected toJanuaError(error: unknown): JanuaError {
    if (error instanceof JanuaError) return error
    if (error instanceof Errors.CLIError && !(error instanceof Errors.ExitError)) {
      // oclif's parser errors (unknown flag, missing argument, bad option) are usage errors.
      const message = redactAll(parseErrorLine(error.message))
      this.parsed = true // the parser ran and refused the input: not oclif's "did not parse its arguments" case
      const hint = `see \`janua ${this.id?.replaceAll(':', ' ') ?? ''} --help\``.replace('  ', ' ')
      return new JanuaError(message, ExitCode.usage, hint, 'invalid_input', { parseError: redactAll(parseErrorDetail(error.message)) })
    }
    return translateError(error)
  }

  async catch(error: Error & { exitCode?: number }): Promise<void> {
    if (error instanceof Errors.ExitError) throw error
    const failure = this.toJanuaError(error)
    process.exitCode = failure.exitCode
    if (this.jsonEnabled()) {
      this.logJson({
        schemaVersion: JSON_SCHEMA_VERSION,
        ok: false,
        error: { code: failure.code, message: redactAll(failure.message), hint: failure.hint, exitCode: failure.exitCode, ...(failure.details ?? {}) },
      })
    } else {
      process.stderr.write(`${colour.red('error')} ${redactAll(failure.message)}\n`)
      if (failure.hint) process.stderr.write(`${colour.dim('hint')}  ${redactAll(failure.hint)}\n`)
      if (process.env.JANUA_DEBUG && error.stack && !(error instanceof JanuaError)) process.stderr.write(`${redactAll(error.stack)}\n`)
    }
  }

  /**
   * Every run is audited in the control plane it used, or in one found by a single read (a run
   * that failed before reading it); nothing is created for it. A row that cannot be written is
   * reported on stderr, in one line, and does not change the exit code: the command's own
   * outcome (already printed) is the truth about what it did.
   */
  async finally(error: Error | undefined): Promise<void> {
    const janua = this.janua
    if (janua) {
      try {
        if (await auditableControlPlane(janua)) {
          await recordAudit(janua, {
            command: this.id?.replaceAll(':', ' ') ?? 'janua',
            args: this.argv,
            exitCode: Number(process.exitCode ?? 0),
            error: error ? this.toJanuaError(error).message : undefined,
            durationMs: Date.now() - this.startedAt,
          })
        }
      } catch (auditError) {
        const failure = this.toJanuaError(auditError)
        process.stderr.write(`${colour.yellow('warning')} this run was not recorded in the audit log: ${redactAll(failure.message)}\n`)
      } finally {
        await janua.close()
      }
    }
    await super.finally(error)
  }

  /** The one JSON document: every string in it goes through the last redaction pass. */
  logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json, (_key, value: unknown) => (typeof value === 'string' ? redactAll(value) : value), 2)}\n`)
  }

  /** A warning for people on stderr (the result under --json carries the same facts). */
  protected warnLine(message: string, hint?: string): void {
    if (this.jsonEnabled()) return
    process.stderr.write(`${colour.yellow('warning')} ${redactAll(message)}\n`)
    if (hint) process.stderr.write(`${colour.dim('hint')}  ${redactAll(hint)}\n`)
  }

  /** Progress for people, on stderr (stdout holds only the result): suppressed under --json. */
  protected note(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`${redactAll(message)}\n`)
  }

  /** A line for people: suppressed under --json. */
  protected say(message = ''): void {
    if (!this.jsonEnabled()) process.stdout.write(`${redactAll(message)}\n`)
  }
}
