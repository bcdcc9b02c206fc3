import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import { JanuaCommand } from '../../cli/base.js'
import { formatBytes } from '../../cli/output.js'
import { exportTenant, type ExportResult } from '../../core/archive/export.js'
import { archiveProgress } from '../../progress/archive.js'
import { progressMode } from '../../progress/fleet.js'

export default class TenantExport extends JanuaCommand {
  static usesTemplates = true
  static summary = "Write one tenant's rows of every tenant table, at one consistent snapshot, to a compressed archive with a manifest and checksums."
  static description = `Works at every level; the tenant keeps writing meanwhile (a REPEATABLE READ snapshot). The archive holds the tenant record, the template version and the sha256 of each applied template file, and per table its columns, row count and content checksum. It is the answer to a data-portability request, and what \`janua tenant import\` restores. Format: docs/design.md.`
  static examples = ['<%= config.bin %> tenant export acme --output acme.janua.gz', '<%= config.bin %> tenant export acme --json']
  static args = { slug: Args.string({ description: 'tenant slug', required: true }) }
  static flags = { output: Flags.string({ char: 'o', summary: 'archive file (default: <slug>-<timestamp>.janua.gz in the current folder)' }) }

  async run(): Promise<ExportResult> {
    const { args, flags } = await this.parse(TenantExport)
    const janua = await this.open(flags)
    const progress = archiveProgress(progressMode(this.jsonEnabled()))
    let result: ExportResult
    try {
      result = await exportTenant(janua, args.slug, { output: flags.output, onEvent: progress.onEvent })
    } finally {
      progress.finish()
    }
    const rows = result.tables.reduce((n, t) => n + t.rows, 0)
    this.say(
      `exported tenant ${result.tenant.slug}: ${rows} rows of ${result.tables.length} tables, version ${result.templateVersion}, ${formatBytes(result.bytes)} -> ${result.file}`,
    )
    return result
  }
}
