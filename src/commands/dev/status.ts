import { JanuaCommand } from '../../cli/base.js'
import { resolveSettings } from '../../core/config.js'
import { embeddedStatus, type EmbeddedStatus } from '../../core/embedded.js'

export default class DevStatus extends JanuaCommand {
  static summary = 'Show whether the embedded PostgreSQL of ./.janua/ exists and runs, and which database janua uses.'
  static examples = ['<%= config.bin %> dev status --json']

  async run(): Promise<EmbeddedStatus & { databaseSource: string }> {
    await this.parse(DevStatus)
    const settings = resolveSettings()
    const status = await embeddedStatus(settings.embeddedDir)
    this.say(`${status.dir}: ${status.initialised ? (status.running ? `running on port ${status.port}` : 'stopped') : 'not created yet'}`)
    this.say(`janua uses: ${settings.urlSource === 'embedded' ? 'the embedded server' : settings.urlSource}`)
    return { ...status, databaseSource: settings.urlSource }
  }
}
