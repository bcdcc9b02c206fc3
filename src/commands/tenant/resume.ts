import * as Args from '@oclif/core/args'
import { JanuaCommand } from '../../cli/base.js'
import { lockTimeoutFlag } from '../../cli/lock-timeout.js'
import { resumeTenant, type SuspendResult } from '../../core/lifecycle.js'

export default class TenantResume extends JanuaCommand {
  static summary = 'Lift a suspension: the tenant writes (and reads) again; its commercial status returns to what it was before.'
  static examples = ['<%= config.bin %> tenant resume acme']
  static args = { slug: Args.string({ description: 'tenant slug', required: true }) }
  static flags = { 'lock-timeout': lockTimeoutFlag() }

  async run(): Promise<SuspendResult> {
    const { args, flags } = await this.parse(TenantResume)
    const janua = await this.open(flags)
    const result = await resumeTenant(janua, args.slug)
    this.say(`resumed tenant ${result.slug} (${result.commercialStatus})`)
    return result
  }
}
