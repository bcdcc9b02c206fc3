import { JanuaCommand } from '../../cli/base.js'
import { resolveSettings } from '../../core/config.js'
import { EMBEDDED_DATABASE } from '../../core/context.js'
import { ensureEmbedded, publicUrl } from '../../core/embedded.js'

export default class DevUrl extends JanuaCommand {
  static summary = "Print the embedded server's URL (starting it if needed); the password is in a pgpass file, never printed."
  static examples = ['PGPASSFILE=.janua/pgpass psql "$(<%= config.bin %> dev url)"']

  async run(): Promise<{ url: string; passfile: string }> {
    await this.parse(DevUrl)
    const { embeddedDir } = resolveSettings()
    const { state } = await ensureEmbedded(embeddedDir)
    const result = publicUrl(embeddedDir, state, EMBEDDED_DATABASE)
    this.say(result.url)
    return result
  }
}
