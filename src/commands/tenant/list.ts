import * as Flags from '@oclif/core/flags'
import { JanuaCommand } from '../../cli/base.js'
import { stdoutIsTerminal } from '../../cli/output.js'
import { parseTenantColumns, renderTenantList, TENANT_COLUMN_NAMES } from '../../cli/render.js'
import { listTenants, type Tenant } from '../../core/tenants.js'
import { ISOLATION_LEVELS } from '../../db/schema.js'

export default class TenantList extends JanuaCommand {
  static summary = 'List tenants with their isolation level, placement and version.'
  static examples = [
    '<%= config.bin %> tenant list',
    '<%= config.bin %> tenant list --isolation schema',
    '<%= config.bin %> tenant list --json | jq -r ".tenants[].slug"',
    '<%= config.bin %> tenant list | cut -f1',
    '<%= config.bin %> tenant list --columns slug,server,database,version',
  ]
  static flags = {
    isolation: Flags.string({ summary: 'only tenants of this level', options: [...ISOLATION_LEVELS] }),
    server: Flags.string({ summary: 'only tenants placed on this server' }),
    status: Flags.string({ summary: 'only tenants in this status', options: ['provisioning', 'active', 'moving', 'dropping'] }),
    'commercial-status': Flags.string({ summary: 'only tenants of this commercial status', options: ['trial', 'active', 'suspended', 'cancelled'] }),
    plan: Flags.string({ summary: 'only tenants on this plan' }),
    columns: Flags.string({ summary: `the columns to print, comma-separated, in that order (${TENANT_COLUMN_NAMES.join(', ')}); --json always has every field` }),
    header: Flags.boolean({
      summary: 'print the header row (--no-header to leave it out); piped output is tab-separated rows without one unless --header',
      allowNo: true,
    }),
  }

  async run(): Promise<{ tenants: Tenant[] }> {
    const { flags } = await this.parse(TenantList)
    const columns = parseTenantColumns(flags.columns)
    const janua = await this.open(flags)
    const tenants = await listTenants(janua, {
      isolation: flags.isolation,
      server: flags.server,
      status: flags.status,
      commercialStatus: flags['commercial-status'],
      plan: flags.plan,
    })
    const tsv = !stdoutIsTerminal()
    const text = renderTenantList(tenants, { tsv, header: flags.header, columns })
    if (!tsv || text !== '') this.say(text)
    return { tenants }
  }
}
