import * as Flags from '@oclif/core/flags'
import { JanuaCommand } from '../../cli/base.js'
import { annotation, appendStepSummary, templateLocation, verifySummary, workflowPath } from '../../cli/ci.js'
import { colour } from '../../cli/output.js'
import type { TemplateSet } from '../../core/templates.js'
import { describePlacement } from '../../core/placement.js'
import { verifyFleet, type VerifyReport } from '../../core/verify.js'
import { ExitCode } from '../../core/errors.js'
import { ISOLATION_LEVELS } from '../../db/schema.js'

export default class DbVerify extends JanuaCommand {
  static usesTemplates = true
  static summary = "Compare every placement's catalog with the templates, lint tenant isolation, check the fleet; exit 3 on any finding."
  static description = `The expected catalog is built by applying the templates (up to each placement's version) to a scratch schema in a transaction that is rolled back. Each database is read in one catalog pass: tables, views, partitions, columns, indexes, constraints, sequences, types and domains, RLS, policies, grants, functions and procedures, triggers, comments, collations. Placements are grouped by a fingerprint of their catalog. Read-only on placements; the control plane caches the expected catalog (per template files and server major version) and each schema's fingerprint while its database's catalog is unchanged (any DDL there reads it again). Finding codes are stable: drift/<kind>, lint/<rule>, fleet/<fact>; silence one with --ignore (a code, or a family such as lint).`
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
    if (flags.format === 'github') this.renderGithub(report, janua.templates)
    else if (!this.jsonEnabled()) this.renderHuman(report)
    appendStepSummary(verifySummary(report))
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

  /** GitHub workflow commands: each finding an annotation; a lint finding on the template file (and line) that creates its object. */
  private renderGithub(report: VerifyReport, templates: TemplateSet) {
    for (const v of report.placements) {
      for (const f of v.findings) {
        const who = v.tenants.length ? ` [${v.tenants.join(', ')}]` : ''
        const detail = [f.expected !== undefined ? `expected: ${f.expected}` : '', f.actual !== undefined ? `actual: ${f.actual}` : ''].filter(Boolean).join('\n')
        const at = f.code.startsWith('lint/') ? templateLocation(f, templates.files) : undefined
        this.say(
          annotation('error', `${describePlacement(v.placement)}${who}: ${f.message}${detail ? `\n${detail}` : ''}`, {
            file: at ? workflowPath(templates.dir, at.file) : null,
            line: at?.line,
            title: `janua ${f.code}`,
          }),
        )
      }
    }
    this.say(
      report.ok
        ? annotation('notice', `${report.summary.placements} placement(s) clean`, { title: 'janua db verify' })
        : annotation('error', `${report.summary.findings} finding(s) in ${report.summary.withFindings} placement(s)`, { title: 'janua db verify' }),
    )
  }
}
