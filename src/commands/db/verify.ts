import { Flags } from '@oclif/core'
import { JanuaCommand } from '../../cli/base.js'
import { colour } from '../../cli/output.js'
import { describePlacement } from '../../core/placement.js'
import { verifyFleet, type VerifyReport } from '../../core/verify.js'
import { ExitCode } from '../../core/errors.js'
import { ISOLATION_LEVELS } from '../../db/schema.js'

export default class DbVerify extends JanuaCommand {
  static usesTemplates = true
  static summary = "Compare every placement's catalog with the templates, lint tenant isolation, check the fleet; exit 3 on any finding."
  static description = `The expected catalog is built by applying the templates (up to each placement's version) to a scratch schema in a transaction that is rolled back. Each database is read in one catalog pass: tables, views, partitions, columns, indexes, constraints, sequences, types and domains, RLS, policies, grants, functions and procedures, triggers, comments, collations. Placements are grouped by a fingerprint of their catalog. Read-only on placements; the expected catalog is cached in the control plane (per template files and server major version). Finding codes are stable: drift/<kind>, lint/<rule>, fleet/<fact>; silence one with --ignore (a code, or a family such as lint).`
  static examples = [
    '<%= config.bin %> db verify',
    '<%= config.bin %> db verify --json',
    '<%= config.bin %> db verify --format github',
    '<%= config.bin %> db verify --tenant acme --ignore lint/index-not-tenant-led',
  ]
  static flags = {
    tenant: Flags.string({ summary: 'only the placement of this tenant (repeatable)', multiple: true }),
    isolation: Flags.string({ summary: 'only placements of this level', options: [...ISOLATION_LEVELS] }),
    server: Flags.string({ summary: 'only placements on this server' }),
    ignore: Flags.string({ summary: 'a finding code (or family) to leave out (repeatable)', multiple: true }),
    format: Flags.string({ summary: 'output for people, or GitHub workflow annotations', options: ['human', 'github'], default: 'human' }),
  }

  async run(): Promise<VerifyReport> {
    const { flags } = await this.parse(DbVerify)
    const janua = await this.open(flags)
    const report = await verifyFleet(janua, { tenants: flags.tenant, isolation: flags.isolation, server: flags.server, ignore: flags.ignore })
    if (flags.format === 'github') this.renderGithub(report)
    else this.renderHuman(report)
    process.exitCode = report.ok ? ExitCode.ok : ExitCode.drift
    return report
  }

  private renderHuman(report: VerifyReport) {
    const s = report.summary
    for (const g of s.groups) {
      const label = g.matchesTemplates ? colour.green(`match version ${g.version}`) : colour.red(`differ${g.version === null ? '' : ` (version ${g.version})`}`)
      this.say(`${g.placements.toLocaleString('en-US')} placement(s) ${label}${g.fingerprint ? colour.dim(` fingerprint ${g.fingerprint.slice(0, 12)}`) : ''}`)
    }
    for (const v of report.placements.filter((p) => p.findings.length)) {
      this.say('')
      const who = v.tenants.length
        ? `tenant${v.tenants.length > 1 ? 's' : ''} ${v.tenants.length > 5 ? `${v.tenants.slice(0, 5).join(', ')} +${v.tenants.length - 5}` : v.tenants.join(', ')}`
        : v.kind
      this.say(colour.bold(`${describePlacement(v.placement)} (${who})`))
      for (const f of v.findings) {
        this.say(`  ${colour.yellow(f.code)} ${f.change} ${f.object}: ${f.message}`)
        if (f.expected !== undefined) this.say(`    ${colour.green('expected')} ${f.expected}`)
        if (f.actual !== undefined) this.say(`    ${colour.red('actual  ')} ${f.actual}`)
      }
    }
    this.say('')
    this.say(
      report.ok
        ? colour.green(`ok: ${s.placements} placement(s) verified in ${(s.durationMs / 1000).toFixed(1)}s`)
        : colour.red(`${s.findings} finding(s) in ${s.withFindings} placement(s); ${s.clean} of ${s.placements} placement(s) clean`),
    )
  }

  /** GitHub workflow commands: each finding becomes an annotation on the job's page. */
  private renderGithub(report: VerifyReport) {
    const escape = (t: string) => t.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A')
    for (const v of report.placements) {
      for (const f of v.findings) {
        const who = v.tenants.length ? ` [${v.tenants.join(', ')}]` : ''
        const detail = [f.expected !== undefined ? `expected: ${f.expected}` : '', f.actual !== undefined ? `actual: ${f.actual}` : ''].filter(Boolean).join('\n')
        this.say(
          `::error title=${escape(`janua ${f.code}`).replaceAll(',', '%2C').replaceAll(':', '%3A')}::${escape(`${describePlacement(v.placement)}${who}: ${f.message}${detail ? `\n${detail}` : ''}`)}`,
        )
      }
    }
    this.say(
      report.ok
        ? `::notice title=janua db verify::${report.summary.placements} placement(s) clean`
        : `::error title=janua db verify::${report.summary.findings} finding(s) in ${report.summary.withFindings} placement(s)`,
    )
  }
}
