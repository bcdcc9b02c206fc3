import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import { JanuaCommand } from '../../cli/base.js'
import { addServer, type AddedServer } from '../../core/servers.js'

export default class ServerAdd extends JanuaCommand {
  static summary = 'Register a PostgreSQL server that tenants may be placed on.'
  static description = `Checks the connection, the server version (15+) and the privileges janua needs there (CREATEDB, CREATEROLE, BYPASSRLS, or superuser), and says exactly what is missing. It records the cluster's identity (system identifier, port, database) and refuses a second name for one already registered, the primary included. Prefer --url-env: janua then stores only the variable's name and reads the URL (with its secret) from the environment of each run. A URL given inline is stored rebuilt without its password; a password in it is stored only encrypted under JANUA_SECRET_KEY (without that key it is refused: use --url-env or ~/.pgpass).`
  static examples = [
    'export EU1_DATABASE_URL=postgres://janua:secret@eu1.db.internal:5432/postgres\n<%= config.bin %> server add eu1 --url-env EU1_DATABASE_URL',
    '<%= config.bin %> server add us2 postgres://janua@us2.db.internal:5432/postgres',
  ]
  static args = {
    name: Args.string({ description: 'server name: lowercase letter, then letters, digits, "_" or "-"', required: true }),
    url: Args.string({ description: 'postgres:// URL (or key=value pairs) of a role that may create databases and roles' }),
  }
  static flags = { 'url-env': Flags.string({ summary: 'name of an environment variable that holds the URL (preferred)' }) }

  async run(): Promise<AddedServer> {
    const { args, flags } = await this.parse(ServerAdd)
    const janua = await this.open(flags)
    const server = await addServer(janua, { name: args.name, url: args.url, urlEnv: flags['url-env'] })
    this.say(`registered ${server.name} (${server.version}) ${server.urlEnv ? `from $${server.urlEnv}` : server.url}`)
    for (const other of server.unverified) this.say(`could not check that ${other.name} is another cluster: ${other.error}`)
    return server
  }
}
