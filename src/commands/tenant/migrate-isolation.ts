import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import { JanuaCommand } from '../../cli/base.js'
import { lockTimeoutFlag } from '../../cli/lock-timeout.js'
import { colour, formatBytes, table } from '../../cli/output.js'
import { canPrompt } from '../../cli/prompts.js'
import { usageError } from '../../core/errors.js'
import { moveTenant, type MoveReport } from '../../core/move/move.js'
import { describePlacement } from '../../core/placement.js'
import { ISOLATION_LEVELS } from '../../db/schema.js'
import { progressMode } from '../../progress/fleet.js'
import { moveProgress } from '../../progress/move.js'
import { confirm } from '@inquirer/prompts'

export default class TenantMigrateIsolation extends JanuaCommand {
  static usesTemplates = true
  // An alias, not a second command: resolved, but listed once (help says "alias: tenant move").
  static hiddenAliases = ['tenant:move']
  static summary = 'Move a tenant to another isolation level (or server) without losing a row: journaled, verified, resumable. Alias: tenant move.'
  static description = `Steps, each journaled: prepare the target at the source's template version; start capturing the tenant's writes (a logical replication slot where the source has wal_level = logical, else a trigger that logs the keys of the rows it changes); copy every table with binary COPY streams under a snapshot taken after that; catch up with the logged changes while the tenant keeps writing; then fence the tenant's writes (the database refuses them; reads and other tenants go on), drain the last changes to a marker, verify row counts and checksums on both sides, switch the placement in one transaction, and remove the source. The fence lasts only the drain, the verify and the switch (\`fencedMs\` in the report). Tables without a primary key (or --capture none) make the move offline: fenced for the whole copy. A killed move is continued with --resume or, before the switch, undone with --abort. Where data would be lost, the move is refused before it starts.`
  static examples = [
    '<%= config.bin %> tenant migrate-isolation acme --to schema --dry-run',
    '<%= config.bin %> tenant migrate-isolation acme --to database --yes',
    '<%= config.bin %> tenant move acme --to shared --yes --json',
    '<%= config.bin %> tenant move acme --resume',
    '<%= config.bin %> tenant move acme --abort',
  ]
  static args = { slug: Args.string({ description: 'tenant slug', required: true }) }
  static flags = {
    to: Flags.string({ summary: 'target isolation level', options: [...ISOLATION_LEVELS] }),
    server: Flags.string({ summary: "target server (default: the tenant's current server)" }),
    'dry-run': Flags.boolean({ summary: 'print the plan (steps, tables, rows and bytes) and change nothing' }),
    capture: Flags.string({
      summary:
        'how writes during the copy reach the target: logical (a replication slot; auto picks it where the source has wal_level = logical, a free slot and the right to replicate), trigger (online, a log table) or none (writes fenced for the whole copy)',
      options: ['auto', 'logical', 'trigger', 'none'],
      default: 'auto',
    }),
    'keep-source': Flags.boolean({ summary: 'keep the source data (renamed, or fenced rows in a shared placement) for a manual check' }),
    resume: Flags.boolean({ summary: "continue the tenant's unfinished move", exclusive: ['abort', 'to'] }),
    abort: Flags.boolean({ summary: "undo the tenant's unfinished move (only before its switch)", exclusive: ['resume', 'to'] }),
    yes: Flags.boolean({ char: 'y', summary: 'do not ask for confirmation' }),
    'lock-timeout': lockTimeoutFlag(),
  }

  async run(): Promise<MoveReport> {
    const { args, flags } = await this.parse(TenantMigrateIsolation)
    if (!flags.to && !flags.resume && !flags.abort) throw usageError('--to is required', 'pass --to shared|schema|database, or --resume / --abort for an unfinished move')
    const ask = !flags.yes && !flags['dry-run'] && !flags.resume
    if (ask && (!canPrompt() || this.jsonEnabled())) throw usageError(`moving tenant "${args.slug}" needs confirmation`, 'pass --yes (or --dry-run to see the plan)')
    const janua = await this.open(flags)
    if (ask) {
      // The plan first (as --dry-run prints it), then the question.
      if (!flags.abort)
        this.render(await moveTenant(janua, { slug: args.slug, to: flags.to, server: flags.server, dryRun: true, keepSource: flags['keep-source'], capture: flags.capture }))
      if (!(await confirm({ message: `${flags.abort ? 'Abort the move of' : 'Move'} tenant "${args.slug}"${flags.to ? ` to ${flags.to}` : ''}?`, default: false }))) {
        throw usageError('not confirmed; nothing was changed')
      }
    }
    const progress = moveProgress(flags['dry-run'] ? 'silent' : progressMode(this.jsonEnabled()))
    let result: MoveReport
    try {
      result = await moveTenant(janua, {
        slug: args.slug,
        to: flags.to,
        server: flags.server,
        dryRun: flags['dry-run'],
        keepSource: flags['keep-source'],
        capture: flags.capture,
        resume: flags.resume,
        abort: flags.abort,
        onEvent: progress.onEvent,
      })
    } catch (error) {
      await progress.finish(error)
      throw error
    }
    await progress.finish()
    this.render(result)
    return result
  }

  private render(r: MoveReport) {
    const route = `${r.from.isolation} ${describePlacement(r.from.placement)} -> ${r.to.isolation} ${describePlacement(r.to.placement)}`
    if (r.dryRun) {
      this.say(`plan: move ${colour.bold(r.tenant)} ${route} at template version ${r.version}`)
      this.say(`steps: ${r.plan!.steps.slice(1).join(' -> ')}`)
      this.say(`capture: ${r.plan!.capture.reason}`)
      this.say(
        table(
          ['TABLE', 'MODE', 'ROWS', 'SIZE'],
          r.tables.map((t) => [t.name, t.mode, t.rows, formatBytes(t.bytes)]),
        ),
      )
      const rows = r.tables.filter((t) => t.mode !== 'reference').reduce((n, t) => n + t.rows, 0)
      this.say(`to copy: ${rows.toLocaleString('en-US')} rows, ${formatBytes(r.tables.filter((t) => t.mode !== 'reference').reduce((n, t) => n + t.bytes, 0))}`)
      return
    }
    if (r.aborted) {
      this.say(`aborted the move of ${r.tenant}: it is active again, ${r.from.isolation} at ${describePlacement(r.from.placement)}`)
      for (const l of r.leftovers)
        this.warnLine(
          `the target ${l.what} ${describePlacement(l.placement)} could not be removed: ${l.error}`,
          `once ${l.placement.server} is reachable: janua tenant cleanup ${r.tenant}`,
        )
      return
    }
    if (r.keptAs) this.say(`the source is kept at ${describePlacement(r.keptAs)} (fenced); remove it with: janua tenant cleanup ${r.tenant}`)
    this.say(`moved ${colour.bold(r.tenant)} ${route}${r.resumed ? ' (resumed)' : ''}`)
    this.say(
      `${r.tables.reduce((n, t) => n + (t.mode === 'reference' ? 0 : t.rows), 0).toLocaleString('en-US')} rows verified; writes fenced ${r.fencedMs ?? '-'} ms (${r.capture === 'none' ? 'offline move' : `online move, ${r.capture} capture`}); total ${r.durationMs} ms`,
    )
  }
}
