import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import { confirm } from '@inquirer/prompts'
import { JanuaCommand } from '../../cli/base.js'
import { canPrompt } from '../../cli/prompts.js'
import { removeServer, type ServerRemovalPlan } from '../../core/servers.js'

export default class ServerRemove extends JanuaCommand {
  static summary = "Unregister a server and drop janua's own databases there."
  static description = `Refused (exit 2, nothing dropped) while the server holds a tenant, a leftover of a move, or an unfinished move, or while janua's databases there hold tenant data or placements of another name for the same cluster. On a terminal it asks for confirmation; elsewhere it needs --yes. Databases it could not drop (server down) are listed with the command that finishes the job.`
  static examples = ['<%= config.bin %> server remove eu1', '<%= config.bin %> server remove eu1 --yes --json']
  static args = { name: Args.string({ description: 'server name', required: true }) }
  static flags = { yes: Flags.boolean({ char: 'y', summary: 'do not ask for confirmation' }) }

  async run(): Promise<ServerRemovalPlan & { removed: true }> {
    const { args, flags } = await this.parse(ServerRemove)
    const janua = await this.open(flags)
    const ask = async (plan: ServerRemovalPlan) =>
      confirm({ message: `Remove server "${plan.name}"${plan.drop.length ? ` and drop ${plan.drop.join(', ')} there` : ''}?`, default: false })
    const result = await removeServer(janua, args.name, { confirm: flags.yes ? async () => true : canPrompt() && !this.jsonEnabled() ? ask : undefined })
    this.say(`removed server ${result.name}${result.drop.length ? `; dropped ${result.drop.join(', ')}` : ''}`)
    for (const kept of result.keep) this.say(`kept ${kept.database}: ${kept.reason}`)
    for (const left of result.notRemoved) this.say(`NOT dropped: ${left.database} (${left.error}); ${left.finish}`)
    return result
  }
}
