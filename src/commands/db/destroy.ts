import * as Flags from '@oclif/core/flags'
import { JanuaCommand } from '../../cli/base.js'
import { canPrompt } from '../../cli/prompts.js'
import { destroyControlPlane, type DestroyReport } from '../../core/destroy.js'
import { usageError } from '../../core/errors.js'
import { input } from '@inquirer/prompts'

export default class DbDestroy extends JanuaCommand {
  static summary = "Remove the control plane, janua's template and shared databases and its app role: refused while any tenant exists."
  static description = `The opposite of \`db init\`, for a fleet whose every tenant was dropped: the janua and janua_shared schemas of the primary database, the template and shared databases janua made on each registered server, and the app role where no other control plane uses it (roles other databases still have grants for stay). Refused while a tenant, a running operation or a recorded leftover exists. On a terminal it asks you to type the database name; elsewhere it needs --yes.`
  static examples = ['<%= config.bin %> db destroy', '<%= config.bin %> db destroy --yes --json']
  static flags = { yes: Flags.boolean({ char: 'y', summary: 'do not ask for confirmation' }) }

  async run(): Promise<DestroyReport> {
    const { flags } = await this.parse(DbDestroy)
    if (!flags.yes && (!canPrompt() || this.jsonEnabled())) throw usageError('destroying the control plane needs confirmation', 'pass --yes')
    const janua = await this.open(flags)
    if (!flags.yes) {
      const database = janua.conn.primaryDatabase
      const answer = await input({ message: `This removes janua's control plane in database "${database}". Type the database name to confirm:` })
      if (answer.trim() !== database) throw usageError('the name typed did not match; nothing was removed')
    }
    const report = await destroyControlPlane(janua)
    this.say(`removed the control plane ${report.controlPlane} from ${report.database} (schemas ${report.schemas.join(', ') || 'none'})`)
    for (const d of report.databases) this.say(`dropped database ${d.database} on ${d.server}`)
    for (const r of report.roles) this.say(`dropped role ${r.role} on ${r.server}`)
    for (const r of report.keptRoles) this.say(`kept role ${r.role} on ${r.server}: ${r.reason}`)
    return report
  }
}
