import pg from 'pg'
import { endQuietly, inTransaction, withClient } from '../../db/connection.js'
import { isPgError } from '../../db/errors.js'
import { ident, literal } from '../../sql/ident.js'
import type { Janua } from '../context.js'
import { lockTables } from '../fence.js'
import type { Placement } from '../placement.js'
import { readKeyedRows, readWholeTables, replaceKeyedRows, type CaptureTable, type RoundOptions, type RoundResult } from './capture.js'
import type { TableShape } from './copy.js'
import type { LogicalFacts } from './plan.js'

/**
 * Logical-decoding capture of a moving tenant's changes: a publication (the tenant's rows of a
 * shared placement through a row filter on tenant_id, or the tenant's own tables; insert, update
 * and delete only, never truncate) and a pgoutput slot created with an exported snapshot that the
 * bulk copy imports. janua reads the slot itself over a normal connection
 * (pg_logical_slot_peek_binary_changes), takes only the keys of the changed rows, and replaces
 * those keys at the target with the source's rows read in one repeatable-read snapshot, exactly as
 * trigger capture does; the slot is advanced only after the target committed. A crash repeats work
 * (replacing a key is idempotent), it never loses any.
 *
 * Names carry the 16-hex prefix of the tenant id, like the capture triggers: status and verify
 * find the objects of no running move.
 */
const suffix = (tenantId: string) => tenantId.replaceAll('-', '').slice(0, 16)
export const slotName = (tenantId: string) => `janua_move_${suffix(tenantId)}`
export const publicationName = (tenantId: string) => `janua_move_${suffix(tenantId)}`
/** the prefix of the logical message that marks the end of a drain */
export const MARKER_PREFIX = 'janua'

/** wal_level, free slots and the right to replicate of the server the client is on. */
export async function logicalFacts(client: pg.ClientBase): Promise<LogicalFacts> {
  const { rows } = await client.query<{ wal: string; free: number; can: boolean }>(
    `select current_setting('wal_level') as wal,
            current_setting('max_replication_slots')::int - (select count(*) from pg_replication_slots)::int as free,
            coalesce((select rolsuper or rolreplication from pg_roles where rolname = current_user), false) as can`,
  )
  const r = rows[0]!
  return { walLevel: r.wal, freeSlots: Number(r.free), canReplicate: r.can }
}

/** The replica identity columns of every table of the schema (null: none, REPLICA IDENTITY NOTHING or a default without primary key). */
export async function replicaIdentities(client: pg.ClientBase, schema: string): Promise<Map<string, string[] | null>> {
  const { rows } = await client.query<{ table: string; columns: string[] | null }>(
    `select c.relname as table,
            case c.relreplident
              when 'f' then (select array_agg(a.attname::text) from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped)
              when 'n' then null
              else (select array_agg(a.attname::text) from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
                     where i.indrelid = c.oid and case c.relreplident when 'd' then i.indisprimary else i.indisreplident end)
            end as columns
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p')`,
    [schema],
  )
  return new Map(rows.map((r) => [r.table, r.columns]))
}

/**
 * The publication, in the caller's connection (autocommit). Idempotent: a resumed move finds its
 * own. It must exist before the slot: pgoutput looks it up as of each decoded change.
 */
export async function createPublication(client: pg.ClientBase, schema: string, tables: CaptureTable[], tenantId: string, rowFilter: boolean): Promise<void> {
  const name = publicationName(tenantId)
  const { rowCount } = await client.query('select 1 from pg_publication where pubname = $1', [name])
  if (rowCount) return
  const filter = (t: CaptureTable) => (rowFilter && t.tenantRows ? ` where (tenant_id = ${literal(tenantId)}::uuid)` : '')
  const list = tables.map((t) => `${ident(schema)}.${ident(t.name)}${filter(t)}`).join(', ')
  // TRUNCATE is published as a fact, never applied as one: a TRUNCATE ignores row filters, so
  // janua replaces that table's rows of the tenant at the target by the source's (logicalRound).
  await client.query(`create publication ${ident(name)} for table ${list} with (publish = 'insert, update, delete, truncate')`)
}

/** An exported snapshot: valid while its replication connection stays open and idle. */
export interface ExportedSnapshot {
  snapshot: string
  close(): Promise<void>
}

/**
 * The slot, created on a replication connection with EXPORT_SNAPSHOT: the copy that imports the
 * snapshot sees exactly the transactions the slot will not decode. A slot already there (a move
 * killed before its copy committed: nothing of it was applied) is dropped and made again, since
 * its snapshot died with the connection.
 */
export async function createSlotWithSnapshot(janua: Janua, placement: Placement, tenantId: string): Promise<ExportedSnapshot> {
  const name = slotName(tenantId)
  await dropSlot(janua, placement, tenantId)
  const config = janua.conn.configFor(await janua.conn.serverConfig(placement.server), placement.database)
  const client = new pg.Client({ ...config, options: undefined, replication: 'database' } as pg.ClientConfig)
  client.on('error', () => {
    // A lost replication connection fails the copy's SET TRANSACTION SNAPSHOT, which reports it.
  })
  await client.connect()
  try {
    const { rows } = await client.query<{ snapshot_name: string }>(`CREATE_REPLICATION_SLOT ${ident(name)} LOGICAL pgoutput EXPORT_SNAPSHOT`)
    return { snapshot: rows[0]!.snapshot_name, close: () => endQuietly(client) }
  } catch (error) {
    await endQuietly(client)
    throw error
  }
}

/** Drops the slot if it exists; a slot still held by a dying session (a killed run) is retried for up to 20 s. */
export async function dropSlot(janua: Janua, placement: Placement, tenantId: string): Promise<void> {
  const pool = await janua.conn.serverPool(placement.server, placement.database)
  for (let attempt = 0; ; attempt++) {
    try {
      await pool.query(`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1 and database = current_database()`, [slotName(tenantId)])
      return
    } catch (error) {
      // 55006: the slot is active (the walsender or backend of a killed run has not noticed yet).
      if (!isPgError(error) || error.code !== '55006' || attempt >= 40) throw error
      await new Promise((r) => setTimeout(r, 500))
    }
  }
}

/**
 * Drops the publication and the slot of the tenant's move. Idempotent.
 *
 * The publication goes while its tables are locked against writes: a session that writes one of
 * them builds the table's list of publications from pg_publication_rel and then looks each one up
 * in pg_publication, and a DROP PUBLICATION committed between the two fails that write with
 * "cache lookup failed for publication" (XX000; seen on PostgreSQL 15 under a concurrent writer).
 * With the lock, every writer either finished before the drop or starts after it has committed.
 */
export async function removeLogical(janua: Janua, placement: Placement, tenantId: string): Promise<void> {
  const pool = await janua.conn.serverPool(placement.server, placement.database)
  const name = publicationName(tenantId)
  await withClient(pool, (client) =>
    inTransaction(client, async () => {
      const { rows } = await client.query<{ schema: string; table: string }>(
        `select n.nspname as schema, c.relname as table
           from pg_publication p join pg_publication_rel r on r.prpubid = p.oid
           join pg_class c on c.oid = r.prrelid join pg_namespace n on n.oid = c.relnamespace
          where p.pubname = $1`,
        [name],
      )
      for (const schema of new Set(rows.map((r) => r.schema))) {
        const tables = rows.filter((r) => r.schema === schema).map((r) => r.table)
        await lockTables(client, schema, tables, 'share row exclusive', { purpose: `dropping publication ${name}` })
      }
      await client.query(`drop publication if exists ${ident(name)}`)
    }),
  )
  await dropSlot(janua, placement, tenantId)
}

/** The drain's marker: a transactional logical message written after the fence. */
export async function emitMarker(client: pg.ClientBase, markerId: string): Promise<void> {
  await client.query(`select pg_logical_emit_message(true, $1, $2)`, [MARKER_PREFIX, markerId])
}

interface Relation {
  schema: string
  name: string
  columns: string[]
}

interface DecodedTransaction {
  xid: number
  /** the lsn of its commit: what the slot is advanced to once it is applied */
  commitLsn: string
  keys: { table: string; key: Record<string, string | null> }[]
  /** tables truncated in the transaction (of the tenant's schema) */
  truncated: string[]
  markers: string[]
}

/**
 * Parses pgoutput (protocol 1) messages into transactions: the changed rows' keys and the logical
 * messages. Incremental: a round feeds it the slot's messages batch by batch (a transaction or a
 * relation message may sit in an earlier batch than the changes that need it).
 */
export class PgoutputDecoder {
  private readonly relations = new Map<number, Relation>()
  private current: DecodedTransaction | null = null

  constructor(
    private readonly keyOf: (table: string) => string[] | undefined,
    private readonly schema: string,
  ) {}

  /** The transactions whose commit is among the messages (in commit order). */
  push(messages: { lsn: string; data: Buffer }[]): DecodedTransaction[] {
    const { relations, keyOf, schema } = this
    const done: DecodedTransaction[] = []
    for (const { lsn, data } of messages) {
      let o = 0
      const str = () => {
        const end = data.indexOf(0, o)
        const s = data.toString('utf8', o, end)
        o = end + 1
        return s
      }
      const tuple = (): (string | null)[] => {
        const n = data.readInt16BE(o)
        o += 2
        const values: (string | null)[] = []
        for (let i = 0; i < n; i++) {
          const kind = String.fromCharCode(data[o++]!)
          if (kind === 't') {
            const len = data.readInt32BE(o)
            o += 4
            values.push(data.toString('utf8', o, o + len))
            o += len
          } else values.push(null) // 'n' null, 'u' an unchanged TOASTed value (never a key column)
        }
        return values
      }
      const addKey = (relid: number, values: (string | null)[]) => {
        const rel = relations.get(relid)
        if (!rel || rel.schema !== schema || !this.current) return
        const key = keyOf(rel.name)
        if (!key) return
        const row: Record<string, string | null> = {}
        for (const k of key) row[k] = values[rel.columns.indexOf(k)] ?? null
        this.current.keys.push({ table: rel.name, key: row })
      }
      const tag = String.fromCharCode(data[o++]!)
      switch (tag) {
        case 'B': {
          // final lsn (8), commit time (8), xid (4)
          this.current = { xid: data.readUInt32BE(17), commitLsn: '', keys: [], truncated: [], markers: [] }
          break
        }
        case 'C': {
          if (this.current) {
            this.current.commitLsn = lsn
            done.push(this.current)
          }
          this.current = null
          break
        }
        case 'R': {
          const relid = data.readUInt32BE(o)
          o += 4
          const ns = str()
          const name = str()
          o += 1 // replica identity setting
          const n = data.readInt16BE(o)
          o += 2
          const columns: string[] = []
          for (let i = 0; i < n; i++) {
            o += 1 // flags
            columns.push(str())
            o += 8 // type oid, typmod
          }
          relations.set(relid, { schema: ns, name, columns })
          break
        }
        case 'I':
        case 'U':
        case 'D': {
          const relid = data.readUInt32BE(o)
          o += 4
          // U: an optional old key (K) or old row (O), then the new row (N); D: the old key or row; I: the new row
          while (o < data.length) {
            o += 1 // K, O or N
            addKey(relid, tuple())
          }
          break
        }
        case 'M': {
          o += 1 + 8 // flags, lsn
          const prefix = str()
          const len = data.readInt32BE(o)
          o += 4
          if (prefix === MARKER_PREFIX && this.current) this.current.markers.push(data.toString('utf8', o, o + len))
          break
        }
        case 'T': {
          // number of relations (4), options (1), then each relation's oid (4)
          const n = data.readInt32BE(o)
          o += 5
          for (let i = 0; i < n; i++) {
            const rel = relations.get(data.readUInt32BE(o))
            o += 4
            if (rel && rel.schema === schema && this.current) this.current.truncated.push(rel.name)
          }
          break
        }
        default:
          // Y (type), O (origin) carry nothing janua applies
          break
      }
    }
    return done
  }
}

/** Parses a whole run of pgoutput messages (see PgoutputDecoder). */
export function decodePgoutput(messages: { lsn: string; data: Buffer }[], keyOf: (table: string) => string[] | undefined, schema: string): DecodedTransaction[] {
  return new PgoutputDecoder(keyOf, schema).push(messages)
}

/** Whether a 32-bit xid is visible (committed before) in a snapshot 'xmin:xmax:xip,...' of full 64-bit ids. */
export function visibleIn(snapshot: string, xid: number): boolean {
  const [xminText, xmaxText, xipText] = snapshot.split(':')
  const xmin = BigInt(xminText!)
  const xmax = BigInt(xmaxText!)
  // The full id nearest xmax (a decoded transaction is recent): it may have started after the snapshot (>= xmax, invisible).
  let diff = (BigInt(xid) - (xmax & 0xffffffffn)) & 0xffffffffn
  if (diff >= 0x80000000n) diff -= 0x100000000n
  const full = xmax + diff
  if (full < xmin) return true
  if (full >= xmax) return false
  return !(xipText ?? '')
    .split(',')
    .filter(Boolean)
    .some((x) => BigInt(x) === full)
}

export interface LogicalRoundResult<S, T> extends RoundResult {
  inSnapshot?: S
  afterApply?: T
}

/** Messages fetched from the slot's cursor at a time. */
const PEEK_BATCH = 5_000

/**
 * One round: a repeatable-read snapshot S of the source is taken first, then the slot is peeked
 * (so it holds at least every transaction visible in S), the changed keys' rows are read in S and
 * replaced at the target. Rows read in S are the source at S for any key, so the target equals the
 * source at S for every key decoded. The slot is advanced (after the target committed) only over
 * the leading transactions visible in S; a later one (committed, but not yet visible in S) is
 * applied again by the next round.
 *
 * The slot is peeked once per round up to the end of the WAL flushed when the round starts, read
 * through a cursor in batches; a round stops taking transactions once `limit` keys are gathered
 * (bounded memory; null: all). Why not a message count passed to the peek: every peek decodes again
 * from the slot's restart point, which a long transaction anywhere on the cluster holds back (the
 * bulk copy into a target database on the same server is one); rounds of a few thousand
 * transactions each re-read the copy's whole WAL, and catch-up grew quadratic with the tenant's size.
 */
export async function logicalRound<S = undefined, T = undefined>(
  source: pg.ClientBase,
  target: pg.ClientBase,
  from: { schema: string },
  to: { schema: string },
  shapes: Map<string, TableShape>,
  tables: CaptureTable[],
  tenantId: string,
  options: RoundOptions<S, T> & { marker?: string } = {},
): Promise<LogicalRoundResult<S, T>> {
  const limit = options.limit === undefined ? 100_000 : options.limit
  const t0 = Date.now()
  const byName = new Map(tables.map((t) => [t.name, t]))
  let inSnapshot: S | undefined
  let advanceTo: string | null = null
  let entries = 0
  let marker = false
  const changes: Awaited<ReturnType<typeof readKeyedRows>> = []
  const truncated = new Set<string>()
  await source.query('begin isolation level repeatable read read only')
  try {
    const snap = (await source.query<{ s: string }>('select pg_current_snapshot()::text as s')).rows[0]!.s
    await source.query(
      `declare janua_slot no scroll cursor for
         select lsn::text, data from pg_logical_slot_peek_binary_changes(${literal(slotName(tenantId))}, null, null, 'proto_version', '1', 'publication_names', ${literal(publicationName(tenantId))}, 'messages', 'true')`,
    )
    const decoder = new PgoutputDecoder((t) => byName.get(t)?.key, from.schema)
    const keysByTable = new Map<string, Map<string, unknown>>()
    let prefix = true
    let full = false
    while (!full) {
      const { rows } = await source.query<{ lsn: string; data: Buffer }>(`fetch ${PEEK_BATCH} from janua_slot`)
      if (!rows.length) break
      for (const tx of decoder.push(rows)) {
        prefix &&= visibleIn(snap, tx.xid)
        // Past the first invisible transaction nothing is advanced over: the next round applies it again.
        if (!prefix) {
          full = true
          break
        }
        advanceTo = tx.commitLsn
        if (options.marker && tx.markers.includes(options.marker)) marker = true
        for (const { table, key } of tx.keys) {
          if (!keysByTable.has(table)) keysByTable.set(table, new Map())
          keysByTable.get(table)!.set(JSON.stringify(key), key)
          entries++
        }
        for (const table of tx.truncated) {
          truncated.add(table)
          entries++
        }
        if (limit !== null && entries >= limit) {
          full = true
          break
        }
      }
    }
    // A truncated table: all of the tenant's rows in it are replaced by the source's at S (its decoded keys are part of that).
    for (const t of truncated) keysByTable.delete(t)
    changes.push(...(await readKeyedRows(source, from, byName, keysByTable, tenantId)))
    changes.push(...(await readWholeTables(source, from, byName, [...truncated], tenantId)))
    if (options.inSnapshot) inSnapshot = await options.inSnapshot(source)
  } finally {
    await source.query('rollback')
  }
  const keys = await replaceKeyedRows(target, to, shapes, changes, tenantId)
  const afterApply = options.afterApply ? await options.afterApply(target) : undefined
  // Only after the target committed: a crash before this decodes and applies these again, harmlessly.
  if (advanceTo) await source.query('select pg_replication_slot_advance($1, $2::pg_lsn)', [slotName(tenantId), advanceTo])
  const applied = new Map(changes.map((c) => [c.table.name, c.keys]))
  return { entries, keys, marker, ms: Date.now() - t0, applied, inSnapshot, afterApply, truncated: [...truncated] }
}
