import type pg from 'pg'
import { CATALOG_SESSIONS, endQuietly, shareOut, withClient } from '../db/connection.js'
import { isMissingDatabase, isUnreachable, translateError } from '../db/errors.js'
import { redactAll } from '../db/redact.js'
import type { IsolationLevel } from '../db/schema.js'
import { ident } from '../sql/ident.js'
import { HISTORY_TABLE, versionOf } from './apply.js'
import { versionInComment } from '../sql/names.js'
import type { Janua } from './context.js'
import { driverFor } from './isolation/index.js'
import { DATABASE_TENANT_SCHEMA, templateDatabase, type Placement } from './placement.js'
import { missingDatabaseError } from './placement-failure.js'
import type { AppliedFile } from './templates.js'

/**
 * Whether the placement is a database of its own (a tenant's, or a server's template database):
 * read on a short-lived session of its own, so that thousands of them never pile up in pools.
 */
export const ownsDatabase = (p: { kind: FleetPlacement['kind'] }): boolean => p.kind === 'template' || driverFor(p.kind).ownsDatabase

/** A placement of the fleet with its tenants: what fleet commands (migrate, verify, status) walk over. */
export interface FleetPlacement {
  /** null for a server's template database, which belongs to no tenant */
  placementId: string | null
  kind: IsolationLevel | 'template'
  placement: Placement
  tenants: string[]
  recordedVersion: number
}

export interface FleetFilter {
  tenants?: string[]
  isolation?: IsolationLevel
  server?: string
}

export async function listFleet(janua: Janua, cpId: string, filter: FleetFilter = {}): Promise<FleetPlacement[]> {
  let query = janua.db
    .selectFrom('janua.placements as p')
    .leftJoin('janua.tenants as t', 't.placement_id', 'p.id')
    .select(['p.id', 'p.kind', 'p.server', 'p.database', 'p.schema', 'p.version', 't.slug'])
    .orderBy('p.id')
  if (filter.isolation) query = query.where('p.kind', '=', filter.isolation)
  if (filter.server) query = query.where('p.server', '=', filter.server)
  // Only the named tenants' placements (with every tenant placed there): a --tenant run at 10,000 tenants reads a handful of rows.
  if (filter.tenants?.length) {
    const wanted = filter.tenants
    query = query.where('p.id', 'in', (qb) => qb.selectFrom('janua.tenants as w').select('w.placement_id').where('w.slug', 'in', wanted))
  }
  const rows = await query.execute()
  const byId = new Map<string, FleetPlacement>()
  for (const row of rows) {
    const id = String(row.id)
    let entry = byId.get(id)
    if (!entry) {
      entry = { placementId: id, kind: row.kind, placement: { server: row.server, database: row.database, schema: row.schema }, tenants: [], recordedVersion: row.version }
      byId.set(id, entry)
    }
    if (row.slug) entry.tenants.push(row.slug)
  }
  let fleet = [...byId.values()]
  if (filter.tenants?.length) {
    const wanted = new Set(filter.tenants)
    fleet = fleet.filter((p) => p.tenants.some((t) => wanted.has(t)))
  } else if (!filter.isolation || driverFor(filter.isolation).ownsDatabase) {
    // The template databases are part of the fleet: kept at the newest version for fast clones.
    const servers = new Set(fleet.map((p) => p.placement.server))
    servers.add('primary')
    for (const server of servers) {
      if (filter.server && filter.server !== server) continue
      const database = templateDatabase(cpId)
      const exists = await withClient(await janua.conn.adminPool(server), (c) =>
        c.query('select 1 from pg_database where datname = $1', [database]).then((r) => (r.rowCount ?? 0) > 0),
      ).catch(() => {
        // Safe to lose: an unreachable server's placements report it (fleet/unreachable); only its template database goes unlisted.
        return false
      })
      if (exists) fleet.push({ placementId: null, kind: 'template', placement: { server, database, schema: DATABASE_TENANT_SCHEMA }, tenants: [], recordedVersion: 0 })
    }
  }
  return fleet
}

export interface PlacementHistory {
  applied: AppliedFile[]
  /** set when the placement could not be read (server down, schema missing) */
  error?: { message: string; exitCode: number }
}

export interface PlacementVersion {
  /** the newest version applied to the placement */
  version: number
  /** set when the placement could not be read (server down, schema missing) */
  error?: { message: string; exitCode: number }
}

/**
 * Reads the history of every placement with one round trip per 500 placements of a database, not
 * one per tenant: fast at thousands of schemas. For migrate, which checks every applied file.
 */
export async function readHistories(janua: Janua, fleet: FleetPlacement[], concurrency: number): Promise<Map<FleetPlacement, PlacementHistory>> {
  const read = await walkHistories(janua, fleet, concurrency, { filesWanted: true })
  return new Map([...read].map(([p, { applied, error }]) => [p, error ? { applied: [], error } : { applied: applied! }]))
}

/**
 * Each placement's version, from its history table's comment (written with each history row, in
 * the same transaction: `janua version N`); a history table without one (written by an older
 * janua) is read. For verify: opening a history table costs a relation cache entry on a new
 * session, a fifth of a cold verify of 10,000 schemas.
 */
export async function readVersions(janua: Janua, fleet: FleetPlacement[], concurrency: number): Promise<Map<FleetPlacement, PlacementVersion>> {
  const read = await walkHistories(janua, fleet, concurrency, { filesWanted: false })
  return new Map([...read].map(([p, { version, error }]) => [p, error ? { version: 0, error } : { version }]))
}

interface HistoryRead {
  /** every applied file; only when asked for, or when the comment gave no version */
  applied?: AppliedFile[]
  version: number
  error?: { message: string; exitCode: number }
}

async function walkHistories(janua: Janua, fleet: FleetPlacement[], concurrency: number, { filesWanted }: { filesWanted: boolean }): Promise<Map<FleetPlacement, HistoryRead>> {
  const result = new Map<FleetPlacement, HistoryRead>()
  await forEachLimit(groupByDatabase(fleet), concurrency, async (group) => {
    const { server, database } = group[0]!.placement
    try {
      const config = await janua.conn.serverConfig(server)
      const read = async (client: pg.ClientBase, pool?: pg.Pool) => {
        // A few schemas (a --tenant run) are looked up by name, each one probe of pg_class by OID (the
        // relname index instead walked every history table of the database: 75 ms at 3,000 schemas);
        // many, by one pass over the history tables.
        const names = group.map((p) => p.placement.schema)
        const few = names.length <= BY_NAME_UP_TO
        const { rows: present } = await client.query<{ nspname: string; comment: string | null }>(
          `${few ? `with named as materialized (select to_regclass(quote_ident(s) || '.' || quote_ident($1)) as oid from unnest($2::text[]) s)\n` : ''}select n.nspname, d.description as comment
             from ${few ? 'named join pg_class c on c.oid = named.oid' : 'pg_class c'}
             join pg_namespace n on n.oid = c.relnamespace
             left join pg_description d on d.objoid = c.oid and d.classoid = 'pg_class'::regclass and d.objsubid = 0
            where c.relkind = 'r'${few ? '' : ' and c.relname = $1'}`,
          few ? [HISTORY_TABLE, names] : [HISTORY_TABLE],
        )
        const { rows: schemas } = await client.query<{ nspname: string }>(
          few ? 'select nspname from pg_namespace where nspname = any($1::text[])' : 'select nspname from pg_namespace',
          few ? [names] : [],
        )
        const commented = new Map(present.map((r) => [r.nspname, filesWanted ? undefined : versionInComment(r.comment)]))
        const existing = new Set(schemas.map((r) => r.nspname))
        const toRead = group.filter((p) => commented.has(p.placement.schema) && commented.get(p.placement.schema) === undefined)
        // One statement per history table, HISTORIES_PER_QUERY of them in one query string (one round trip): a
        // UNION ALL of as many tables took twice as long to plan, on a new session, as the statements one by one.
        const bySchema = new Map<string, AppliedFile[]>()
        const chunks = Array.from({ length: Math.ceil(toRead.length / HISTORIES_PER_QUERY) }, (_, i) =>
          toRead.slice(i * HISTORIES_PER_QUERY, (i + 1) * HISTORIES_PER_QUERY).map((p) => p.placement.schema),
        )
        await shareOut(client, pool, CATALOG_SESSIONS, chunks, async (session, chunk) => {
          const text = chunk.map((schema) => `select version, file, sha256 from ${ident(schema)}.${ident(HISTORY_TABLE)}`).join(';\n')
          // several statements in one simple query give one result each; a single one, a plain result
          const results = [(await session.query<AppliedFile>(text)) as pg.QueryResult<AppliedFile> | pg.QueryResult<AppliedFile>[]].flat()
          for (const [i, schema] of chunk.entries()) bySchema.set(schema, results[i]!.rows)
        })
        for (const p of group) {
          const schema = p.placement.schema
          const fromComment = commented.get(schema)
          const applied = bySchema.get(schema)?.sort((a, b) => a.version - b.version)
          if (!existing.has(schema)) {
            result.set(p, { version: 0, error: { message: `schema ${schema} does not exist in ${server}/${database}`, exitCode: 1 } })
          } else if (fromComment !== undefined) {
            result.set(p, { version: fromComment })
          } else {
            // a schema without a history table has applied nothing
            result.set(p, { applied: applied ?? [], version: versionOf(applied ?? []) })
          }
        }
      }
      if (group.length > 1 || !ownsDatabase(group[0]!)) {
        const pool = janua.conn.pool(config, database)
        await withClient(pool, (client) => read(client, pool))
      } else {
        const client = await janua.conn.dedicatedClient(server, database)
        try {
          await read(client)
        } finally {
          await endQuietly(client)
        }
      }
    } catch (error) {
      const failure = isMissingDatabase(error)
        ? missingDatabaseError(
            group[0]!.placement,
            group.flatMap((p) => p.tenants),
          )
        : translateError(error, `reading ${server}/${database}`)
      for (const p of group) result.set(p, { version: 0, error: { message: redactAll(failure.message), exitCode: isUnreachable(error) ? 5 : failure.exitCode } })
    }
  })
  return result
}

/** One query string reads this many history tables (one statement each). */
const HISTORIES_PER_QUERY = 500

/** Up to this many schemas of a database are looked up one by one (by name, through the catalog indexes). */
const BY_NAME_UP_TO = 50

/** Placements grouped by (server, database): fleet commands read each database once. */
export function groupByDatabase(fleet: FleetPlacement[]): FleetPlacement[][] {
  const groups = new Map<string, FleetPlacement[]>()
  for (const p of fleet) {
    const key = `${p.placement.server}\u0000${p.placement.database}`
    if (!groups.has(key)) groups.set(key, [])
    groups.get(key)!.push(p)
  }
  return [...groups.values()]
}

/** Runs fn over items with at most `limit` at a time; never rejects because of one item. */
export async function forEachLimit<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>, shouldStop: () => boolean = () => false): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length && !shouldStop()) {
      const index = next++
      await fn(items[index]!, index)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
}
