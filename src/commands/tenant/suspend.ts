import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import { JanuaCommand } from '../../cli/base.js'
import { lockTimeoutFlag } from '../../cli/lock-timeout.js'
import { suspendTenant, type SuspendResult } from '../../core/lifecycle.js'

export default class TenantSuspend extends JanuaCommand {
  static summary = 'Suspend a tenant: its writes fail in the database (SQLSTATE 55000), its reads go on; --no-read makes it unreachable by the app role.'
  static description = `Migrations still reach a suspended tenant (janua's own sessions are not fenced). A move refuses a suspended tenant. Lift it with \`janua tenant resume\`.`
  static examples = ['<%= config.bin %> tenant suspend acme --reason "unpaid invoice"', '<%= config.bin %> tenant suspend acme --no-read --json']
  static args = { slug: Args.string({ description: 'tenant slug', required: true }) }
  static flags = {
    reason: Flags.string({ summary: 'why (kept in the tenant record and the journal)' }),
    'no-read': Flags.boolean({ summary: 'block reads too: RLS yields no rows (shared), the app role loses USAGE on the schema / CONNECT on the database' }),
    'lock-timeout': lockTimeoutFlag(),
  }

  async run(): Promise<SuspendResult> {
    const { args, flags } = await this.parse(TenantSuspend)
    const janua = await this.open(flags)
    const result = await suspendTenant(janua, args.slug, { reason: flags.reason, noRead: flags['no-read'] })
    this.say(`suspended tenant ${result.slug} (${result.suspension!.mode})`)
    return result
  }
}
