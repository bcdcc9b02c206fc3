import { JanuaCommand } from '../cli/base.js'
import { table } from '../cli/output.js'
import { describeSettings, type SettingReport } from '../core/config.js'

export default class Config extends JanuaCommand {
  static summary = 'Show each setting janua would use here, and where it came from (flag, environment, janua.config.json, default).'
  static description = `janua.config.json and .janua/ are looked up from the current folder up to the repository root (a folder holding .git). Nothing is connected to; a database URL is shown without its password.`
  static examples = ['<%= config.bin %> config', '<%= config.bin %> config --json']

  async run(): Promise<{ configFile: string | null; settings: SettingReport[] }> {
    const { flags } = await this.parse(Config)
    const result = describeSettings({ databaseUrl: flags['database-url'], templates: flags.templates })
    this.say(`config file: ${result.configFile ?? 'none found (from here up to the repository root)'}`)
    this.say(
      table(
        ['SETTING', 'VALUE', 'SOURCE'],
        result.settings.map((s) => [s.name, s.value ?? 'the embedded server (started on first use)', `(from ${s.source})`]),
      ),
    )
    return result
  }
}
