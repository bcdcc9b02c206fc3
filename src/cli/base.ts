import { Command, Errors, Flags, type Interfaces } from '@oclif/core'
import { Janua } from '../core/context.js'
import { auditableControlPlane } from '../core/control-plane.js'
import { ExitCode, JanuaError } from '../core/errors.js'
import { recordAudit } from '../core/journal.js'
import { translateError } from '../db/errors.js'
import { redactAll } from '../db/redact.js'
import { colour, configureColour } from './output.js'

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

  protected janua?: Janua
  private readonly startedAt = Date.now()

  async init(): Promise<void> {
    await super.init()
    configureColour(this.jsonEnabled())
  }

  /** Opens the primary database (starting the embedded server if none is configured). */
  protected async open(flags: { 'database-url'?: string; templates?: string }): Promise<Janua> {
    this.janua = await Janua.open({ databaseUrl: flags['database-url'], templates: flags.templates })
    return this.janua
  }

  protected toJanuaError(error: unknown): JanuaError {
    if (error instanceof JanuaError) return error
    if (error instanceof Errors.CLIError && !(error instanceof Errors.ExitError)) {
      // oclif's parser errors (unknown flag, missing argument, bad option) are usage errors.
      const message = redactAll(error.message.split('\n')[0] ?? error.message)
      return new JanuaError(message, ExitCode.usage, `see \`janua ${this.id?.replaceAll(':', ' ') ?? ''} --help\``.replace('  ', ' '))
    }
    return translateError(error)
  }

  async catch(error: Error & { exitCode?: number }): Promise<void> {
    if (error instanceof Errors.ExitError) throw error
    const failure = this.toJanuaError(error)
    process.exitCode = failure.exitCode
    if (this.jsonEnabled()) {
      this.logJson({ error: { code: failure.code, message: redactAll(failure.message), hint: failure.hint, exitCode: failure.exitCode, ...(failure.details ?? {}) } })
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

  logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`)
  }

  /** A line for people: suppressed under --json. */
  protected say(message = ''): void {
    if (!this.jsonEnabled()) process.stdout.write(`${redactAll(message)}\n`)
  }
}
