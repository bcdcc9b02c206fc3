import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import { JanuaCommand } from '../../cli/base.js'
import { lockTimeoutFlag } from '../../cli/lock-timeout.js'
import { askChoice, askText, canPrompt } from '../../cli/prompts.js'
import { renderTenant } from '../../cli/render.js'
import { createTenant, type Tenant } from '../../core/tenants.js'
import { ISOLATION_LEVELS } from '../../db/schema.js'
import { SLUG_PATTERN } from '../../sql/ident.js'

export default class TenantCreate extends JanuaCommand {
  static usesTemplates = true
  static summary = 'Create a tenant at an isolation level: shared (RLS), schema, or database.'
  static description = `The tenant gets a placement at the newest template version and its seed rows (default roles). A failure at any step leaves nothing behind: no schema, database or control-plane row. If a previous create of the same slug was killed, its leftovers are removed first. On a terminal, missing arguments are prompted for; elsewhere they must be passed.`
  static examples = [
    '<%= config.bin %> tenant create acme',
    '<%= config.bin %> tenant create acme --name "Acme Corp" --isolation schema',
    '<%= config.bin %> tenant create bigco --isolation database --json',
  ]
  static args = {
    slug: Args.string({ description: 'lowercase letter, then lowercase letters, digits or "-", at most 40 characters' }),
  }
  static flags = {
    name: Flags.string({ summary: 'display name (default: the slug)' }),
    isolation: Flags.string({ summary: 'isolation level', options: [...ISOLATION_LEVELS] }),
    server: Flags.string({ summary: 'server to place the tenant on (default: the registered server with the fewest tenants)' }),
    domain: Flags.string({ summary: "the tenant's domain, recorded in the control plane" }),
    plan: Flags.string({ summary: 'billing plan code, recorded in the control plane' }),
    'billing-email': Flags.string({ summary: 'billing contact, recorded in the control plane' }),
    'lock-timeout': lockTimeoutFlag(),
  }

  async run(): Promise<Tenant> {
    const { args, flags } = await this.parse(TenantCreate)
    const slug = args.slug ?? (await askText('Tenant slug:', 'the <slug> argument', (v) => SLUG_PATTERN.test(v) || 'lowercase letter first, then a-z, 0-9, "-"'))
    const isolation = flags.isolation ?? (canPrompt() && !this.jsonEnabled() ? await askChoice('Isolation level:', '--isolation', ISOLATION_LEVELS, 'shared') : 'shared')
    const janua = await this.open(flags)
    const tenant = await createTenant(janua, {
      slug,
      name: flags.name,
      isolation,
      server: flags.server,
      domain: flags.domain,
      plan: flags.plan,
      billingEmail: flags['billing-email'],
      onPlaced: (server, policy) => this.note(`placing on server ${server} (${policy})`),
    })
    this.say(`created ${renderTenant(tenant)}`)
    return tenant
  }
}
