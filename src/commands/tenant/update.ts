import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import { JanuaCommand } from '../../cli/base.js'
import { lockTimeoutFlag } from '../../cli/lock-timeout.js'
import { updateTenant, type UpdateResult } from '../../core/lifecycle.js'

export default class TenantUpdate extends JanuaCommand {
  static summary = "Set a tenant's commercial status, plan code, limits, name or domain (journaled)."
  static description = 'Status suspended is set by `janua tenant suspend` (it changes the database, not only the record); a suspended tenant is resumed before its status changes.'
  static examples = [
    '<%= config.bin %> tenant update acme --status active --plan pro --limit max_users=50 --limit sso=true',
    '<%= config.bin %> tenant update acme --limit max_users=null',
    '<%= config.bin %> tenant update acme --domain app.acme.example',
  ]
  static args = { slug: Args.string({ description: 'tenant slug', required: true }) }
  static flags = {
    status: Flags.string({ summary: 'commercial status', options: ['trial', 'active', 'suspended', 'cancelled'] }),
    plan: Flags.string({ summary: 'plan code' }),
    limit: Flags.string({ summary: 'a limit as key=value (JSON value when it parses, else text; key=null removes it)', multiple: true }),
    name: Flags.string({ summary: 'display name' }),
    domain: Flags.string({ summary: 'the host name the application resolves to this tenant (janua.resolve_tenant)', exclusive: ['clear-domain'] }),
    'clear-domain': Flags.boolean({ summary: "remove the tenant's domain" }),
    'lock-timeout': lockTimeoutFlag(),
  }

  async run(): Promise<UpdateResult> {
    const { args, flags } = await this.parse(TenantUpdate)
    const janua = await this.open(flags)
    const result = await updateTenant(janua, args.slug, {
      status: flags.status,
      plan: flags.plan,
      limits: flags.limit,
      name: flags.name,
      domain: flags['clear-domain'] ? null : flags.domain,
    })
    this.say(`updated tenant ${result.slug}: ${result.changed.join(', ')}`)
    return result
  }
}
