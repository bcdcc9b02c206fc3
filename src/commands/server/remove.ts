import { Args } from '@oclif/core'
import { JanuaCommand } from '../../cli/base.js'
import { removeServer } from '../../core/servers.js'

export default class ServerRemove extends JanuaCommand {
  static summary = 'Unregister a server; refused while any tenant is placed there.'
  static examples = ['<%= config.bin %> server remove eu1']
  static args = { name: Args.string({ description: 'server name', required: true }) }

  async run(): Promise<{ name: string; removed: true }> {
    const { args, flags } = await this.parse(ServerRemove)
    const janua = await this.open(flags)
    const result = await removeServer(janua, args.name)
    this.say(`removed server ${result.name}`)
    return result
  }
}
