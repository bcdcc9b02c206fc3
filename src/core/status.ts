import { sql } from 'kysely'
import { describeSource } from './config.js'
import type { Janua } from './context.js'
import { requireControlPlane } from './control-plane.js'
import { listLeftovers, type Leftover } from './leftovers.js'
import { moveSlotsOn, type MoveSlot } from './move/strays.js'
import { translateError } from '../db/errors.js'

export interface FleetStatus {
  controlPlane: { id: string; database: string }
  templates: { dir: string; source: string; latest: number; files: number }
  tenants: { total: number; byIsolation: Record<string, number>; byServer: Record<string, number>; byStatus: Record<string, number> }
  placements: { total: number; byVersion: Record<string, number>; behind: number }
  pending: { file: string; placements: number }[]
  unfinished: { id: number; kind: string; tenant: string | null; step: string | null; startedAt: string; pid: number | null; host: string | null }[]
  lastMigration: { runId: string | null; status: string; startedAt: string; finishedAt: string | null; error: string | null } | null
  /** kept sources and aborted-move targets janua recorded: removed by `janua tenant cleanup <slug>` */
  leftovers: Leftover[]
  /** logical slots of moves that are not running, per server (each pins WAL): dropped by --abort/--resume of the move, or by hand */
  straySlots: (MoveSlot & { error?: string })[]
}

/** `janua db status`: the fleet at a glance, from the control plane (and one slot query per server: no tenant connections). */
export async function fleetStatus(janua: Janua): Promise<FleetStatus> {
  const cpId = await requireControlPlane(janua)
  const set = janua.templates
  const tally = (rows: { key: string; n: number | string | bigint }[]) => Object.fromEntries(rows.map((r) => [r.key, Number(r.n)]))
  // One connection, one query after the other: six small queries cost less than the five more
  // backends the server would start to run them side by side.
  const { byIsolation, byServer, byStatus, byVersion, unfinished, lastRun } = await janua.db.connection().execute(async (db) => ({
    byIsolation: await db
      .selectFrom('janua.tenants')
      .select(['isolation as key', sql<number>`count(*)`.as('n')])
      .groupBy('isolation')
      .execute(),
    byServer: await db
      .selectFrom('janua.tenants as t')
      .innerJoin('janua.placements as p', 'p.id', 't.placement_id')
      .select(['p.server as key', sql<number>`count(*)`.as('n')])
      .groupBy('p.server')
      .execute(),
    byStatus: await db
      .selectFrom('janua.tenants')
      .select(['status as key', sql<number>`count(*)`.as('n')])
      .groupBy('status')
      .execute(),
    byVersion: await db
      .selectFrom('janua.placements')
      .select([sql<string>`version::text`.as('key'), sql<number>`count(*)`.as('n')])
      .groupBy('version')
      .execute(),
    unfinished: await db.selectFrom('janua.operations').selectAll().where('status', '=', 'running').where('kind', '<>', 'migrate.placement').orderBy('started_at').execute(),
    lastRun: await db.selectFrom('janua.operations').selectAll().where('kind', '=', 'tenant.migrate').orderBy('started_at', 'desc').limit(1).executeTakeFirst(),
  }))
  const versions = tally(byVersion)
  const pending = set.files
    .map((f) => ({
      file: f.name,
      placements: Object.entries(versions)
        .filter(([v]) => Number(v) < f.version)
        .reduce((n, [, c]) => n + c, 0),
    }))
    .filter((p) => p.placements > 0)
  const total = Object.values(tally(byIsolation)).reduce((a, b) => a + b, 0)
  return {
    controlPlane: { id: cpId, database: janua.conn.primaryDatabase },
    templates: { dir: set.dir, source: describeSource(janua.settings, janua.settings.templatesSource), latest: set.latest, files: set.files.length },
    tenants: { total, byIsolation: { shared: 0, schema: 0, database: 0, ...tally(byIsolation) }, byServer: tally(byServer), byStatus: tally(byStatus) },
    placements: {
      total: Object.values(versions).reduce((a, b) => a + b, 0),
      byVersion: versions,
      behind: Object.entries(versions)
        .filter(([v]) => Number(v) < set.latest)
        .reduce((n, [, c]) => n + c, 0),
    },
    pending,
    unfinished: unfinished.map((o) => ({
      id: Number(o.id),
      kind: o.kind,
      tenant: o.tenant_slug,
      step: o.step,
      startedAt: new Date(o.started_at).toISOString(),
      pid: o.pid,
      host: o.host,
    })),
    leftovers: await listLeftovers(janua),
    straySlots: await straySlots(janua),
    lastMigration: lastRun
      ? {
          runId: lastRun.run_id,
          status: lastRun.status,
          startedAt: new Date(lastRun.started_at).toISOString(),
          finishedAt: lastRun.finished_at ? new Date(lastRun.finished_at).toISOString() : null,
          error: lastRun.error,
        }
      : null,
  }
}

/** One cluster-wide query per server of the fleet: janua slots whose move is not running. An unreachable server is reported, not fatal. */
async function straySlots(janua: Janua): Promise<FleetStatus['straySlots']> {
  const servers = (await janua.db.selectFrom('janua.placements').select('server').distinct().execute()).map((r) => r.server)
  const running = (await janua.db.selectFrom('janua.operations').select('tenant_id').where('kind', '=', 'tenant.move').where('status', '=', 'running').execute()).map((r) =>
    (r.tenant_id ?? '').replaceAll('-', '').slice(0, 16),
  )
  const found: FleetStatus['straySlots'] = []
  for (const server of servers) {
    try {
      const pool = await janua.conn.adminPool(server)
      const client = await pool.connect()
      try {
        found.push(...(await moveSlotsOn(client, server)).filter((s) => !running.includes(s.tenantPrefix)))
      } finally {
        client.release()
      }
    } catch (error) {
      found.push({ server, slot: '', database: '', tenantPrefix: '', retainedBytes: 0, error: translateError(error, `reading the replication slots of ${server}`).message })
    }
  }
  return found
}
