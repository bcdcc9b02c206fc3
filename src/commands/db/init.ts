import { JanuaCommand } from '../../cli/base.js'
import { lockTimeoutFlag } from '../../cli/lock-timeout.js'
import { initDb, type InitResult } from '../../core/control-plane.js'

export default class DbInit extends JanuaCommand {
  static usesTemplates = true
  static summary = 'Create or upgrade the control plane, the app role and the shared placement (idempotent).'
  static description = `Creates the "janua" schema (tenants, servers, placements, operation journal, audit log), the app role (NOLOGIN, no BYPASSRLS) and the shared placement, and applies pending templates to the shared placement. Safe to run again at any time. An applied template whose content changed is refused with exit 6, naming the file.`
  static examples = [
    '<%= config.bin %> db init',
    'DATABASE_URL=postgres://admin@db.internal/saas <%= config.bin %> db init --json',
    '<%= config.bin %> db init --templates ./db/templates',
  ]
  static flags = {
    'lock-timeout': lockTimeoutFlag('how long to wait for a lock held by another run, then exit 4: milliseconds or a duration (30s, 2m); default: as long as it takes'),
  }

  async run(): Promise<InitResult> {
    const { flags } = await this.parse(DbInit)
    const janua = await this.open(flags)
    const result = await initDb(janua, { lockTimeoutMs: flags['lock-timeout'] === undefined ? undefined : janua.lockWait.lockTimeoutMs })
    const { controlPlane: cp, sharedPlacement: sp } = result
    this.say(`control plane ${cp.id} in database ${cp.database} ${cp.created ? 'created' : 'up to date'} (schema version ${cp.schemaVersion})`)
    this.say(`app role ${result.appRole.name} ${result.appRole.created ? 'created' : 'present'}`)
    this.say(`shared placement ${sp.placement.database}/${sp.placement.schema} at version ${sp.version}${sp.applied.length ? ` (applied ${sp.applied.join(', ')})` : ''}`)
    return result
  }
}
