import * as Args from '@oclif/core/args'
import { JanuaCommand } from '../../cli/base.js'
import { renderInspection } from '../../cli/render.js'
import { inspectTenant, type TenantInspection } from '../../core/tenants.js'

export default class TenantInspect extends JanuaCommand {
  static usesTemplates = true
  static summary = 'Show a tenant: placement, status, version, pending templates, rows per table, size, recent operations.'
  static description = `The version is read from the placement's own template history, not from the control plane. For a shared tenant, rows and size count only that tenant's rows (size: their row data, without indexes).`
  static examples = ['<%= config.bin %> tenant inspect acme', '<%= config.bin %> tenant inspect acme --json']
  static args = { slug: Args.string({ description: 'tenant slug', required: true }) }

  async run(): Promise<TenantInspection> {
    const { args, flags } = await this.parse(TenantInspect)
    const janua = await this.open(flags)
    const result = await inspectTenant(janua, args.slug)
    this.say(renderInspection(result))
    return result
  }
}
