import type pg from 'pg'
import { ident, literal } from '../../sql/ident.js'
import { lockTables, triggersOn } from '../fence.js'
import { abandonTransaction, type TableShape } from './copy.js'

/**
 * Trigger capture of a moving tenant's changes (Bucardo's pattern): an AFTER row trigger on each
 * moving table logs the key of every row of the tenant that is inserted, updated or deleted into
 * a log table of its own. Catch-up rounds read logged keys and the current rows in one source
 * snapshot, replace those keys at the target, and only after the target committed delete the log
 * rows they applied: a replay is idempotent, a crash only repeats work, and a transaction that
 * commits late (with a lower id) is simply found by the next round (no `id > last` watermark).
 *
 * Objects live in a schema `janua_capture` of the source database, never in the placement's own
 * schema (verify compares that); the trigger's name starts with janua_ (verify skips those).
 */
export const CAPTURE_SCHEMA = 'janua_capture'
const CAPTURE_FUNCTION = 'capture_row'
const MARKER = '__janua_marker__'

const suffix = (tenantId: string) => tenantId.replaceAll('-', '').slice(0, 16)
export const captureTriggerName = (tenantId: string) => `janua_capture_${suffix(tenantId)}`
export const captureLogName = (tenantId: string) => `log_${suffix(tenantId)}`
/** the statement-level trigger that logs a TRUNCATE (a name of its own: one name per table and trigger) */
export const truncateTriggerName = (tenantId: string) => `janua_capture_${suffix(tenantId)}_truncate`
/** the log entry of a TRUNCATE: the next round replaces all of the tenant's rows of that table */
const TRUNCATED = '__janua_truncated__'
const TRUNCATE_FUNCTION = 'capture_truncate'

export interface CaptureTable {
  name: string
  /** primary key columns: what identifies a row at both ends */
  key: string[]
  /** false for a table without tenant_id in a placement of the tenant's own: every row is the tenant's */
  tenantRows: boolean
}

/**
 * Installs the log table, the function and one trigger per table, in the caller's transaction.
 * Idempotent. CREATE TRIGGER waits for in-flight writers: once committed, every later write of
 * the tenant is logged, so a copy under a snapshot taken after the commit misses nothing.
 */
export async function installCapture(client: pg.ClientBase, schema: string, tables: CaptureTable[], tenantId: string): Promise<void> {
  const log = `${ident(CAPTURE_SCHEMA)}.${ident(captureLogName(tenantId))}`
  await client.query(`create schema if not exists ${ident(CAPTURE_SCHEMA)}`)
  await client.query(`revoke all on schema ${ident(CAPTURE_SCHEMA)} from public`)
  await client.query(`create table if not exists ${log} (id bigserial primary key, tbl text not null, key jsonb not null, at timestamptz not null default clock_timestamp())`)
  await client.query(`revoke all on ${log} from public`)
  // SECURITY DEFINER: the app role writes the tenant's rows, janua's role writes the log.
  await client.query(`create or replace function ${ident(CAPTURE_SCHEMA)}.${ident(CAPTURE_FUNCTION)}() returns trigger
    language plpgsql security definer set search_path = pg_catalog as $capture$
declare
  log text := tg_argv[0];
  rows_of text := tg_argv[1];
  key_columns text[] := tg_argv[2:array_upper(tg_argv, 1)];
  r jsonb;
  old_key jsonb;
begin
  if tg_op <> 'INSERT' then
    r := to_jsonb(old);
    if rows_of = '' or r->>'tenant_id' = rows_of then
      select jsonb_object_agg(k, r->k) into old_key from unnest(key_columns) k;
      execute format('insert into janua_capture.%I (tbl, key) values ($1, $2)', log) using tg_table_name, old_key;
    end if;
  end if;
  if tg_op <> 'DELETE' then
    r := to_jsonb(new);
    if rows_of = '' or r->>'tenant_id' = rows_of then
      r := (select jsonb_object_agg(k, r->k) from unnest(key_columns) k);
      if old_key is distinct from r then
        execute format('insert into janua_capture.%I (tbl, key) values ($1, $2)', log) using tg_table_name, r;
      end if;
    end if;
  end if;
  return null;
end
$capture$`)
  await client.query(`revoke all on function ${ident(CAPTURE_SCHEMA)}.${ident(CAPTURE_FUNCTION)}() from public`)
  // A TRUNCATE fires no row trigger: a statement trigger logs it, and the next round re-copies that table's rows of the tenant.
  await client.query(`create or replace function ${ident(CAPTURE_SCHEMA)}.${ident(TRUNCATE_FUNCTION)}() returns trigger
    language plpgsql security definer set search_path = pg_catalog as $capture$
begin
  execute format('insert into janua_capture.%I (tbl, key) values ($1, $2)', tg_argv[0]) using tg_table_name, jsonb_build_object('${TRUNCATED}', true);
  return null;
end
$capture$`)
  await client.query(`revoke all on function ${ident(CAPTURE_SCHEMA)}.${ident(TRUNCATE_FUNCTION)}() from public`)
  const name = captureTriggerName(tenantId)
  await lockTables(
    client,
    schema,
    tables.map((t) => t.name),
    'share row exclusive',
  )
  // A trigger already there (a resumed move) is the same one: its arguments follow from the plan.
  const { withTrigger } = await triggersOn(
    client,
    schema,
    tables.map((t) => t.name),
    name,
  )
  for (const t of tables.filter((x) => !withTrigger.has(x.name))) {
    const args = [captureLogName(tenantId), t.tenantRows ? tenantId : '', ...t.key].map(literal).join(', ')
    await client.query(`create trigger ${ident(name)} after insert or update or delete on ${ident(schema)}.${ident(t.name)}
      for each row execute function ${ident(CAPTURE_SCHEMA)}.${ident(CAPTURE_FUNCTION)}(${args})`)
  }
  const { withTrigger: withTruncate } = await triggersOn(
    client,
    schema,
    tables.map((t) => t.name),
    truncateTriggerName(tenantId),
  )
  for (const t of tables.filter((x) => !withTruncate.has(x.name))) {
    await client.query(`create trigger ${ident(truncateTriggerName(tenantId))} after truncate on ${ident(schema)}.${ident(t.name)}
      for each statement execute function ${ident(CAPTURE_SCHEMA)}.${ident(TRUNCATE_FUNCTION)}(${literal(captureLogName(tenantId))})`)
  }
}

/** Removes the triggers and the log table (the schema and function stay for other moves). Idempotent. */
export async function removeCapture(client: pg.ClientBase, schema: string, tables: string[], tenantId: string): Promise<void> {
  const name = captureTriggerName(tenantId)
  const { withTrigger } = await triggersOn(client, schema, tables, name)
  const { withTrigger: withTruncate } = await triggersOn(client, schema, tables, truncateTriggerName(tenantId))
  const captured = tables.filter((t) => withTrigger.has(t) || withTruncate.has(t))
  await lockTables(client, schema, captured, 'access exclusive')
  for (const table of captured) {
    await client.query(`drop trigger if exists ${ident(name)} on ${ident(schema)}.${ident(table)}`)
    await client.query(`drop trigger if exists ${ident(truncateTriggerName(tenantId))} on ${ident(schema)}.${ident(table)}`)
  }
  await client.query(`drop table if exists ${ident(CAPTURE_SCHEMA)}.${ident(captureLogName(tenantId))}`)
}

/** A marker written after the fence: the drain is complete once a round has applied it. */
export async function writeMarker(client: pg.ClientBase, tenantId: string): Promise<void> {
  await client.query(`insert into ${ident(CAPTURE_SCHEMA)}.${ident(captureLogName(tenantId))} (tbl, key) values ($1, '{}')`, [MARKER])
}

export interface RoundResult {
  /** log rows applied (and deleted) */
  entries: number
  /** distinct keys replaced at the target */
  keys: number
  /** whether the round applied the marker */
  marker: boolean
  ms: number
  /** the keys replaced, per table: what the in-fence verify compares after a drain */
  applied: Map<string, unknown[]>
  /** tables whose rows were all replaced after a TRUNCATE (their keys are not in `applied`: the verify after such a drain is a full one) */
  truncated?: string[]
}

export interface RoundOptions<S, T> {
  /** at most this many log entries (null: all of them, for a round whose snapshot must cover everything logged) */
  limit?: number | null
  /** runs inside the round's source snapshot, after the rows were read (e.g. checksums at exactly that snapshot) */
  inSnapshot?: (source: pg.ClientBase) => Promise<S>
  /** runs on the target after the round committed there (janua is the target's only writer of the tenant) */
  afterApply?: (target: pg.ClientBase) => Promise<T>
}

/**
 * One catch-up round: the logged keys and the current source rows for them under one
 * repeatable-read snapshot, replaced at the target in one transaction, then the applied log rows
 * deleted at the source. `limit` bounds a round's size.
 */
export async function applyRound<S = undefined, T = undefined>(
  source: pg.ClientBase,
  target: pg.ClientBase,
  from: { schema: string },
  to: { schema: string },
  shapes: Map<string, TableShape>,
  tables: CaptureTable[],
  tenantId: string,
  options: RoundOptions<S, T> = {},
): Promise<RoundResult & { inSnapshot?: S; afterApply?: T }> {
  const limit = options.limit === undefined ? 20_000 : options.limit
  let inSnapshot: S | undefined
  const t0 = Date.now()
  const log = `${ident(CAPTURE_SCHEMA)}.${ident(captureLogName(tenantId))}`
  const byName = new Map(tables.map((t) => [t.name, t]))
  await source.query('begin isolation level repeatable read read only')
  let ids: string[] = []
  let marker = false
  const changes: KeyedChange[] = []
  const truncated = new Set<string>()
  try {
    const { rows: entries } = await source.query<{ id: string; tbl: string; key: Record<string, unknown> }>(
      `select id::text, tbl, key from ${log} order by id${limit === null ? '' : ` limit ${Number(limit)}`}`,
    )
    ids = entries.map((e) => e.id)
    marker = entries.some((e) => e.tbl === MARKER)
    const keysByTable = new Map<string, Map<string, unknown>>()
    for (const e of entries) {
      if (e.tbl === MARKER) continue
      if (e.key[TRUNCATED] === true) truncated.add(e.tbl)
      else {
        if (!keysByTable.has(e.tbl)) keysByTable.set(e.tbl, new Map())
        keysByTable.get(e.tbl)!.set(JSON.stringify(e.key), e.key)
      }
    }
    // A truncated table: all of the tenant's rows in it are replaced (its logged keys are part of that).
    for (const t of truncated) keysByTable.delete(t)
    changes.push(...(await readKeyedRows(source, from, byName, keysByTable, tenantId)))
    changes.push(...(await readWholeTables(source, from, byName, [...truncated], tenantId)))
    if (options.inSnapshot) inSnapshot = await options.inSnapshot(source)
  } finally {
    await source.query('rollback')
  }
  const keyCount = await replaceKeyedRows(target, to, shapes, changes, tenantId)
  // Only after the target committed: the applied entries leave the log (a crash before this repeats them, harmlessly).
  const afterApply = options.afterApply ? await options.afterApply(target) : undefined
  if (ids.length) await source.query(`delete from ${log} where id = any($1::bigint[])`, [ids])
  const applied = new Map(changes.map((c) => [c.table.name, c.keys]))
  return { entries: ids.length, keys: keyCount, marker, ms: Date.now() - t0, applied, inSnapshot, afterApply, truncated: [...truncated] }
}

export interface KeyedChange {
  table: CaptureTable
  keys: unknown[]
  rows: unknown[]
  /** every row of the tenant in the table is replaced (after a TRUNCATE), not only `keys` */
  whole?: boolean
}

/** All of the tenant's current rows of the tables (every row of a table without tenant_id), in the caller's snapshot. */
export async function readWholeTables(
  source: pg.ClientBase,
  from: { schema: string },
  byName: Map<string, CaptureTable>,
  names: string[],
  tenantId: string,
): Promise<KeyedChange[]> {
  const changes: KeyedChange[] = []
  for (const name of names) {
    const table = byName.get(name)
    if (!table) continue
    const { rows } = await source.query<{ rows: unknown[] }>(
      `select coalesce(jsonb_agg(to_jsonb(t.*)), '[]'::jsonb) as rows from ${ident(from.schema)}.${ident(name)} t${table.tenantRows ? ` where t.tenant_id = ${literal(tenantId)}::uuid` : ''}`,
    )
    changes.push({ table, keys: [], rows: rows[0]!.rows, whole: true })
  }
  return changes
}

/** The current source rows of the changed keys, in the caller's snapshot (a key without a row was deleted). */
export async function readKeyedRows(
  source: pg.ClientBase,
  from: { schema: string },
  byName: Map<string, CaptureTable>,
  keysByTable: Map<string, Map<string, unknown>>,
  tenantId: string,
): Promise<KeyedChange[]> {
  const changes: KeyedChange[] = []
  for (const [name, keyMap] of keysByTable) {
    const table = byName.get(name)
    if (!table) continue
    const keys = [...keyMap.values()]
    const keyList = table.key.map(ident).join(', ')
    const { rows } = await source.query<{ rows: unknown[] }>(
      `select coalesce(jsonb_agg(to_jsonb(t.*)), '[]'::jsonb) as rows from ${ident(from.schema)}.${ident(name)} t
        where (${table.key.map((k) => `t.${ident(k)}`).join(', ')}) in (select ${keyList} from jsonb_populate_recordset(null::${ident(from.schema)}.${ident(name)}, $1::jsonb))${table.tenantRows ? ` and t.tenant_id = ${literal(tenantId)}::uuid` : ''}`,
      [JSON.stringify(keys)],
    )
    changes.push({ table, keys, rows: rows[0]!.rows })
  }
  return changes
}

/** Replaces the changed keys at the target in one transaction (delete by key, insert the current rows): idempotent. Returns the keys replaced. */
export async function replaceKeyedRows(target: pg.ClientBase, to: { schema: string }, shapes: Map<string, TableShape>, changes: KeyedChange[], tenantId: string): Promise<number> {
  let keyCount = 0
  if (!changes.length) return 0
  await target.query('begin')
  try {
    await target.query('set local session_replication_role = replica')
    for (const { table, keys, rows, whole } of changes) {
      const shape = shapes.get(table.name)!
      const keyList = table.key.map(ident).join(', ')
      const q = `${ident(to.schema)}.${ident(table.name)}`
      const tenantOnly = table.tenantRows ? ` and tenant_id = ${literal(tenantId)}::uuid` : ''
      // Never a TRUNCATE at the target: only the tenant's rows go (a shared target holds other tenants').
      if (whole) await target.query(`delete from ${q} where true${tenantOnly}`)
      else
        await target.query(`delete from ${q} where (${keyList}) in (select ${keyList} from jsonb_populate_recordset(null::${q}, $1::jsonb))${tenantOnly}`, [JSON.stringify(keys)])
      if (rows.length) {
        const columns = shape.columns.map(ident).join(', ')
        await target.query(`insert into ${q} (${columns}) select ${columns} from jsonb_populate_recordset(null::${q}, $1::jsonb)`, [JSON.stringify(rows)])
      }
      keyCount += keys.length
    }
    await target.query('commit')
  } catch (error) {
    await abandonTransaction(target)
    throw error
  }
  return keyCount
}

/** Primary key columns of the placement's tables (tables without one are absent). */
export async function primaryKeys(client: pg.ClientBase, schema: string): Promise<Map<string, string[]>> {
  const { rows } = await client.query<{ table: string; columns: string[] }>(
    `select c.relname as table, array_agg(a.attname::text order by k.ord) as columns
       from pg_index i
       join pg_class c on c.oid = i.indrelid
       join pg_namespace n on n.oid = c.relnamespace
       cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
       join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
      where n.nspname = $1 and i.indisprimary
      group by c.relname`,
    [schema],
  )
  return new Map(rows.map((r) => [r.table, r.columns]))
}
