import * as Flags from '@oclif/core/flags'
import { JanuaCommand } from '../../cli/base.js'
import { lockTimeoutFlag } from '../../cli/lock-timeout.js'
import { appendStepSummary, distinctErrors, migrateAnnotations, migrateSummary, some, type DistinctError } from '../../cli/ci.js'
import { colour, table } from '../../cli/output.js'
import { fleetExitCode, migrateFleet, type MigrateReport } from '../../core/migrate.js'
import { describePlacement } from '../../core/placement.js'
import { ISOLATION_LEVELS } from '../../db/schema.js'
import { fleetProgress, progressMode } from '../../progress/fleet.js'

export default class TenantMigrate extends JanuaCommand {
  static usesTemplates = true
  static summary = 'Apply pending templates to every placement, in parallel, one failure never stopping the rest.'
  static description = `Plans first (placements x pending files); an applied file whose content changed stops the run before anything is applied (exit 6). Each placement is migrated under its own advisory lock, so several runs at once apply each file to each placement exactly once. Exit 1 if any placement failed (the report names the tenant, file, line and error); a re-run applies only what is left. The server's template database (for fast database-tenant creation) is kept current too.`
  static examples = [
    '<%= config.bin %> tenant migrate --dry-run',
    '<%= config.bin %> tenant migrate',
    '<%= config.bin %> tenant migrate --tenant acme --tenant globex --json',
    '<%= config.bin %> tenant migrate --isolation schema --to 5 --concurrency 4 --fail-fast',
    '<%= config.bin %> tenant migrate --format github',
  ]
  static flags = {
    tenant: Flags.string({ summary: 'only the placement of this tenant (repeatable)', multiple: true }),
    isolation: Flags.string({ summary: 'only placements of this level', options: [...ISOLATION_LEVELS] }),
    server: Flags.string({ summary: 'only placements on this server' }),
    to: Flags.integer({ summary: 'stop at this template version (default: the newest)', min: 0 }),
    concurrency: Flags.integer({ summary: "placements migrated at once (default: from the servers' free connections, at most 8)", min: 1, max: 64 }),
    'fail-fast': Flags.boolean({ summary: 'stop starting placements after the first failure' }),
    'dry-run': Flags.boolean({ summary: 'print the plan and change nothing' }),
    format: Flags.string({
      summary: 'output for people, or GitHub workflow annotations (one per distinct error, with file, line and column)',
      options: ['human', 'github'],
      default: 'human',
    }),
    'lock-timeout': lockTimeoutFlag(
      'how long to wait for a placement locked by another run, then that placement fails with exit 4: milliseconds or a duration (30s, 2m); default: as long as it takes',
    ),
  }

  async run(): Promise<MigrateReport & { ok: boolean; errors: DistinctError[] }> {
    const { flags } = await this.parse(TenantMigrate)
    const janua = await this.open(flags)
    const progress = fleetProgress(flags['dry-run'] ? 'silent' : progressMode(this.jsonEnabled()), 'migrate')
    let report: MigrateReport
    try {
      report = await migrateFleet(janua, {
        tenants: flags.tenant,
        isolation: flags.isolation,
        server: flags.server,
        toVersion: flags.to,
        concurrency: flags.concurrency,
        failFast: flags['fail-fast'],
        dryRun: flags['dry-run'],
        lockTimeoutMs: flags['lock-timeout'] === undefined ? undefined : janua.lockWait.lockTimeoutMs,
        onEvent: (event) => {
          if (event.type === 'start') progress.start(event.total)
          else {
            progress.update(event.done, event.failed, event.total)
            const o = event.outcome
            if (o.status === 'failed') progress.failure(`${describePlacement(o.placement)} [${o.tenants.join(', ') || o.kind}]: ${o.error?.reason ?? o.error?.message}`)
          }
        },
      })
    } finally {
      await progress.finish()
    }
    const errors = distinctErrors(report.placements)
    if (flags.format === 'github') for (const line of migrateAnnotations(report, errors)) this.say(line)
    else this.render(report, errors)
    if (!report.dryRun) appendStepSummary(migrateSummary(report, errors))
    // A journal or version write that failed leaves `db status` wrong: the run did not do all it should.
    for (const error of report.journalErrors) process.stderr.write(`${colour.yellow('warning')} ${error}; run \`janua tenant migrate\` again to record the versions\n`)
    process.exitCode = Math.max(fleetExitCode(report.placements), report.journalErrors.length ? 1 : 0)
    return { ...report, ok: report.summary.failed === 0 && report.journalErrors.length === 0, errors }
  }

  private render(report: MigrateReport, errors: DistinctError[]) {
    if (report.dryRun) {
      const pending = report.placements.filter((p) => p.pending.length)
      this.say(`plan: ${pending.length} of ${report.placements.length} placement(s) have pending files (target version ${report.targetVersion})`)
      if (pending.length) {
        this.say(
          table(
            ['PLACEMENT', 'KIND', 'TENANTS', 'VERSION', 'PENDING'],
            pending.map((p) => [
              describePlacement(p.placement),
              p.kind,
              p.tenants.length > 3 ? `${p.tenants.slice(0, 3).join(', ')} +${p.tenants.length - 3}` : p.tenants.join(', '),
              p.version,
              p.pending.join(', '),
            ]),
          ),
        )
      }
      return
    }
    const s = report.summary
    this.say(
      `${s.migrated} migrated, ${s.upToDate} up to date, ${s.failed ? colour.red(`${s.failed} failed`) : '0 failed'}${s.skipped ? `, ${s.skipped} skipped` : ''}; ${s.filesApplied} file(s) applied in ${(s.durationMs / 1000).toFixed(1)}s${report.runId ? ` (run ${report.runId})` : ''}`,
    )
    // One line per distinct error, with the placements it hit.
    for (const e of errors) this.say(`${colour.red('failed')} ${e.placements.length} placement(s) [${some(e.tenants.length ? e.tenants : e.placements, 5)}]: ${e.message}`)
  }
}
