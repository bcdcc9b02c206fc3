import * as Flags from '@oclif/core/flags'
import { JanuaCommand } from '../../cli/base.js'
import { table } from '../../cli/output.js'
import { listServers, type ServerInfo } from '../../core/servers.js'

export default class ServerList extends JanuaCommand {
  static summary = 'List registered servers (URLs shown without passwords), their PostgreSQL versions and tenant counts.'
  static examples = ['<%= config.bin %> server list', '<%= config.bin %> server list --check --json']
  static flags = { check: Flags.boolean({ summary: 'connect to each server and report its version or error' }) }

  async run(): Promise<{ servers: ServerInfo[] }> {
    const { flags } = await this.parse(ServerList)
    const janua = await this.open(flags)
    const servers = await listServers(janua, { check: flags.check })
    this.say(
      table(
        ['NAME', 'URL', 'VERSION', 'TENANTS', ...(flags.check ? ['STATUS'] : [])],
        servers.map((s) => [s.name, s.urlEnv ? `$${s.urlEnv}` : (s.url ?? ''), s.version ?? '?', s.tenants, ...(flags.check ? [s.reachable ? 'up' : `down: ${s.error}`] : [])]),
      ),
    )
    return { servers }
  }
}
