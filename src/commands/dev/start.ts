import { JanuaCommand } from '../../cli/base.js'
import { resolveSettings } from '../../core/config.js'
import { EMBEDDED_DATABASE } from '../../core/context.js'
import { ensureEmbedded, publicUrl } from '../../core/embedded.js'

export default class DevStart extends JanuaCommand {
  static summary = 'Start the embedded PostgreSQL kept in ./.janua/ (created on first use; left running).'
  static description = `janua uses this server when no database is configured (--database-url, JANUA_DATABASE_URL, DATABASE_URL, janua.config.json). It listens on 127.0.0.1 on a free port, never 5432's owner.`
  static examples = ['<%= config.bin %> dev start', '<%= config.bin %> dev start --json']

  async run(): Promise<{ dir: string; started: boolean; port: number; url: string; passfile: string }> {
    await this.parse(DevStart)
    const { embeddedDir } = resolveSettings()
    const { state, started } = await ensureEmbedded(embeddedDir)
    const { url, passfile } = publicUrl(embeddedDir, state, EMBEDDED_DATABASE)
    this.say(`${started ? 'started' : 'already running'}: ${url} (password in ${passfile})`)
    return { dir: embeddedDir, started, port: state.port, url, passfile }
  }
}
