import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import { JanuaCommand } from '../../cli/base.js'
import { lockTimeoutFlag } from '../../cli/lock-timeout.js'
import { importTenant, type ImportResult } from '../../core/archive/import.js'
import { ISOLATION_LEVELS } from '../../db/schema.js'
import { archiveProgress } from '../../progress/archive.js'
import { progressMode } from '../../progress/fleet.js'

export default class TenantImport extends JanuaCommand {
  static usesTemplates = true
  static summary = 'Create a tenant from an archive of `janua tenant export`, at any level: verified before anything is written, activated only once its rows check out.'
  static description = `Refused (exit 2, nothing created) when the archive is damaged or altered, was made with template files that differ from this installation's (sha256), or its tenant id or slug exists (--as for another slug, --new-id for a new id: tenant_id is rewritten). The tenant is built at the archive's template version; run \`janua tenant migrate\` after. A failed or killed import leaves nothing (run it again).`
  static examples = ['<%= config.bin %> tenant import acme.janua.gz', '<%= config.bin %> tenant import acme.janua.gz --as acme-restored --isolation schema --new-id']
  static args = { file: Args.string({ description: 'archive file', required: true }) }
  static flags = {
    as: Flags.string({ summary: "slug of the new tenant (default: the archive's)" }),
    isolation: Flags.string({ summary: "isolation level (default: the archive's)", options: [...ISOLATION_LEVELS] }),
    server: Flags.string({ summary: 'server to place the tenant on (default: the placement policy)' }),
    'new-id': Flags.boolean({ summary: 'give the tenant a new id (rewrites tenant_id in every row)' }),
    'lock-timeout': lockTimeoutFlag(),
  }

  async run(): Promise<ImportResult> {
    const { args, flags } = await this.parse(TenantImport)
    const janua = await this.open(flags)
    const progress = archiveProgress(progressMode(this.jsonEnabled()))
    let result: ImportResult
    try {
      result = await importTenant(janua, { file: args.file, as: flags.as, isolation: flags.isolation, server: flags.server, newId: flags['new-id'], onEvent: progress.onEvent })
    } finally {
      progress.finish()
    }
    const rows = result.tables.reduce((n, t) => n + t.rows, 0)
    this.say(`imported tenant ${result.slug} (${result.isolation}, version ${result.version}): ${rows} rows of ${result.tables.length} tables verified`)
    return result
  }
}
