import { JanuaCommand } from '../../cli/base.js'
import { colour, table } from '../../cli/output.js'
import { fleetStatus, type FleetStatus } from '../../core/status.js'

export default class DbStatus extends JanuaCommand {
  static usesTemplates = true
  static summary = 'The fleet at a glance: tenants per level and server, placements per version, pending files, unfinished runs and moves.'
  static description = 'Reads the control plane only (versions as recorded by janua); `janua db verify` checks the placements themselves.'
  static examples = ['<%= config.bin %> db status', '<%= config.bin %> db status --json']

  async run(): Promise<FleetStatus> {
    const { flags } = await this.parse(DbStatus)
    const janua = await this.open(flags)
    const s = await fleetStatus(janua)
    const kv = (o: Record<string, number>) =>
      Object.entries(o)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    this.say(`control plane ${s.controlPlane.id} in ${s.controlPlane.database}; templates at version ${s.templates.latest} (${s.templates.files} files)`)
    this.say(`templates: ${s.templates.dir} (from ${s.templates.source})`)
    this.say(`tenants: ${s.tenants.total} (${kv(s.tenants.byIsolation)}); by server: ${kv(s.tenants.byServer)}; by status: ${kv(s.tenants.byStatus)}`)
    this.say(
      `placements: ${s.placements.total}; by version: ${kv(s.placements.byVersion)}; ${s.placements.behind ? colour.yellow(`${s.placements.behind} behind`) : 'all current'}`,
    )
    if (s.pending.length)
      this.say(
        table(
          ['PENDING FILE', 'PLACEMENTS'],
          s.pending.map((p) => [p.file, p.placements]),
        ),
      )
    if (s.unfinished.length) {
      this.say(colour.yellow(`${s.unfinished.length} unfinished operation(s):`))
      this.say(
        table(
          ['ID', 'KIND', 'TENANT', 'STEP', 'STARTED', 'PID'],
          s.unfinished.map((o) => [o.id, o.kind, o.tenant ?? '', o.step ?? '', o.startedAt, o.pid ?? '']),
        ),
      )
    }
    if (s.leftovers.length) {
      this.say(colour.yellow(`${s.leftovers.length} leftover(s) of moves (janua tenant cleanup <slug>):`))
      this.say(
        table(
          ['TENANT', 'KIND', 'WHAT', 'PLACEMENT', 'ERROR'],
          s.leftovers.map((l) => [l.tenantSlug ?? '', l.kind, l.what, `${l.placement.server}/${l.placement.database}/${l.placement.schema}`, l.error ?? '']),
        ),
      )
    }
    if (s.straySlots.length) {
      this.say(colour.yellow(`${s.straySlots.length} replication slot(s) of no running move (each keeps WAL; --abort the move, or drop the slot):`))
      this.say(
        table(
          ['SERVER', 'SLOT', 'DATABASE', 'RETAINED BYTES', 'ERROR'],
          s.straySlots.map((x) => [x.server, x.slot, x.database, x.retainedBytes, x.error ?? '']),
        ),
      )
    }
    if (s.lastMigration) this.say(`last migrate run ${s.lastMigration.runId}: ${s.lastMigration.status}${s.lastMigration.error ? ` (${s.lastMigration.error})` : ''}`)
    return s
  }
}
