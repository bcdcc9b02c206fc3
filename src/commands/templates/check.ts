import * as Flags from '@oclif/core/flags'
import { JanuaCommand } from '../../cli/base.js'
import { colour } from '../../cli/output.js'
import { ExitCode } from '../../core/errors.js'
import { checkTemplates, type TemplateCheckReport } from '../../core/templates-check.js'

export default class TemplatesCheck extends JanuaCommand {
  static summary = 'Check a template folder before it ships: isolation lint with file and line, supported levels, files migrate would refuse; exit 3 on findings.'
  static description = `Applies the folder to a scratch schema in a transaction that is rolled back (on the primary server, or the embedded one when none is configured), then runs the isolation lint of \`db verify\` on it (RLS enabled and forced, tenant policies, indexes led by tenant_id, foreign keys with tenant_id, views with security_invoker, no grants to PUBLIC), naming the file and line that created each object. Reports which isolation levels the folder supports (shared needs tenant_id tables under forced RLS) and the files \`tenant migrate\` would refuse: an applied file edited or removed, a new file numbered too low, statements that cannot run in a transaction without the no-transaction header. Use it as the pull-request step; \`db verify\` is the post-deploy step.`
  static examples = [
    '<%= config.bin %> templates check',
    '<%= config.bin %> templates check --templates db/templates --format github',
    '<%= config.bin %> templates check --json',
  ]
  static flags = {
    format: Flags.string({ summary: 'output for people, or GitHub workflow annotations', options: ['human', 'github'], default: 'human' }),
  }

  async run(): Promise<TemplateCheckReport> {
    const { flags } = await this.parse(TemplatesCheck)
    const janua = await this.open(flags)
    const report = await checkTemplates(janua)
    if (flags.format === 'github') this.renderGithub(report)
    else if (!this.jsonEnabled()) this.renderHuman(report)
    process.exitCode = report.ok ? ExitCode.ok : ExitCode.drift
    return report
  }

  private renderHuman(report: TemplateCheckReport) {
    this.say(`${report.files} file(s) in ${report.dir}, newest version ${report.latest}`)
    for (const l of report.levels) this.say(`  ${l.level.padEnd(8)} ${l.supported ? colour.green('supported') : colour.red('not supported')}${l.reason ? `: ${l.reason}` : ''}`)
    if (report.referenceTables.length) this.say(colour.dim(`  reference tables (no tenant_id, one copy per placement): ${report.referenceTables.join(', ')}`))
    for (const f of report.findings) {
      const where = f.file ? `${f.file}${f.line ? `:${f.line}` : ''}: ` : ''
      this.say(`${where}${colour.yellow(f.code)} ${f.message}`)
    }
    this.say(report.ok ? colour.green('ok: no findings') : colour.red(`${report.findings.length} finding(s)`))
  }

  /** GitHub workflow commands: each finding becomes an annotation on the file and line. */
  private renderGithub(report: TemplateCheckReport) {
    const escape = (t: string) => t.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A')
    const property = (t: string) => escape(t).replaceAll(',', '%2C').replaceAll(':', '%3A')
    for (const f of report.findings) {
      const where = [f.file ? `file=${property(f.file)}` : '', f.line ? `line=${f.line}` : ''].filter(Boolean).join(',')
      this.say(`::error ${where ? `${where},` : ''}title=${property(`janua ${f.code}`)}::${escape(f.message)}`)
    }
    const levels = report.levels.map((l) => `${l.level} ${l.supported ? 'supported' : 'not supported'}`).join(', ')
    this.say(report.ok ? `::notice title=janua templates check::${report.files} file(s) clean (${levels})` : `::error title=janua templates check::${report.findings.length} finding(s) (${levels})`)
  }
}
