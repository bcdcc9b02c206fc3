import { JanuaCommand } from '../../cli/base.js'
import { resolveSettings } from '../../core/config.js'
import { stopEmbedded } from '../../core/embedded.js'

export default class DevStop extends JanuaCommand {
  static summary = 'Stop the embedded PostgreSQL of ./.janua/ (its data is kept).'
  static examples = ['<%= config.bin %> dev stop']

  async run(): Promise<{ dir: string; stopped: boolean }> {
    await this.parse(DevStop)
    const { embeddedDir } = resolveSettings()
    const result = await stopEmbedded(embeddedDir)
    this.say(result.stopped ? 'stopped' : 'not running')
    return { dir: embeddedDir, ...result }
  }
}
