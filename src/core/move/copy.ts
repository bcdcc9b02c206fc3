import { createHash } from 'node:crypto'
import { pipeline } from 'node:stream/promises'
import type pg from 'pg'
import copyStreams from 'pg-copy-streams'
import { ident, literal } from '../../sql/ident.js'

const { from: copyFrom, to: copyTo } = copyStreams

export interface TableShape {
  name: string
  /** columns that are copied: every column but generated ones, in attribute order */
  columns: string[]
  /** the same without timestamp columns: what makes template reference rows equal across placements (now() differs) */
  contentColumns: string[]
  hasTenantId: boolean
  /** columns backed by a sequence (serial or identity) */
  sequenceColumns: string[]
}

/** Columns of the placement's tables, in one query. */
export async function tableShapes(client: pg.ClientBase, schema: string, tables: string[]): Promise<Map<string, TableShape>> {
  const { rows } = await client.query<{ table: string; column: string; generated: boolean; has_sequence: boolean; timestamp: boolean }>(
    `select c.relname as table, a.attname as column, a.attgenerated <> '' as generated,
            a.atttypid in ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) as timestamp,
            pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname) is not null as has_sequence
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where n.nspname = $1 and c.relname = any($2::text[])
      order by c.relname, a.attnum`,
    [schema, tables],
  )
  const shapes = new Map<string, TableShape>()
  for (const r of rows) {
    let shape = shapes.get(r.table)
    if (!shape) {
      shape = { name: r.table, columns: [], contentColumns: [], hasTenantId: false, sequenceColumns: [] }
      shapes.set(r.table, shape)
    }
    if (r.generated) continue
    shape.columns.push(r.column)
    if (!r.timestamp) shape.contentColumns.push(r.column)
    if (r.column === 'tenant_id') shape.hasTenantId = true
    if (r.has_sequence) shape.sequenceColumns.push(r.column)
  }
  return shapes
}

const columnList = (shape: TableShape) => shape.columns.map(ident).join(', ')
const tenantFilter = (shape: TableShape, tenantId: string | null) => (shape.hasTenantId && tenantId ? ` where tenant_id = ${literal(tenantId)}::uuid` : '')

/**
 * Streams one table's rows (the tenant's, or all of a reference table) from source to target:
 * binary COPY TO STDOUT piped into COPY FROM STDIN, never buffered whole in memory.
 */
export async function copyTable(
  source: pg.ClientBase,
  target: pg.ClientBase,
  from: { schema: string },
  to: { schema: string },
  shape: TableShape,
  tenantId: string | null,
): Promise<{ rows: number; bytes: number }> {
  const out = source.query(copyTo(`copy (select ${columnList(shape)} from ${ident(from.schema)}.${ident(shape.name)}${tenantFilter(shape, tenantId)}) to stdout (format binary)`))
  const into = target.query(copyFrom(`copy ${ident(to.schema)}.${ident(shape.name)} (${columnList(shape)}) from stdin (format binary)`))
  let bytes = 0
  out.on('data', (chunk: Buffer) => (bytes += chunk.length))
  await pipeline(out, into)
  return { rows: into.rowCount ?? 0, bytes }
}

/**
 * Each row's share of the content checksum: a 64-bit hash of its text. hashtextextended is the
 * hash of hash partitioning, so it is the same on every server and major version; it costs 40% less
 * than md5 over the same text (measured on 400k rows: 0.93 s against 1.5 s). Summed as numeric:
 * exact, and order-independent.
 */
const rowHash = (list: string) => `hashtextextended(row(${list})::text, 0)`

/**
 * Row count and an order-independent content checksum (the sum of each row's hash), computed by
 * the server on both sides of a move, and by export and import.
 */
export async function tableChecksum(
  client: pg.ClientBase,
  schema: string,
  shape: TableShape,
  tenantId: string | null,
  columns = shape.columns,
): Promise<{ rows: number; checksum: string }> {
  const list = columns.length ? columns.map(ident).join(', ') : 'null'
  const { rows } = await client.query<{ n: string | number; s: string }>(
    `select count(*)::bigint as n, coalesce(sum(${rowHash(list)}), 0)::text as s
       from ${ident(schema)}.${ident(shape.name)}${tenantFilter(shape, tenantId)}`,
  )
  const n = Number(rows[0]!.n)
  return { rows: n, checksum: createHash('sha256').update(`${n}:${rows[0]!.s}`).digest('hex').slice(0, 32) }
}

export interface SequenceState {
  table: string
  column: string
  lastValue: string
  isCalled: boolean
}

export async function readSequences(client: pg.ClientBase, schema: string, shapes: TableShape[]): Promise<SequenceState[]> {
  const states: SequenceState[] = []
  for (const shape of shapes) {
    for (const column of shape.sequenceColumns) {
      const { rows } = await client.query<{ seq: string }>('select pg_get_serial_sequence($1, $2) as seq', [`${ident(schema)}.${ident(shape.name)}`, column])
      const state = await client.query<{ last_value: string; is_called: boolean }>(`select last_value::text, is_called from ${rows[0]!.seq}`)
      states.push({ table: shape.name, column, lastValue: state.rows[0]!.last_value, isCalled: state.rows[0]!.is_called })
    }
  }
  return states
}

/**
 * Sequence positions at the target: identical for a placement of its own; for a shared target,
 * never lowered below what other tenants already drew.
 */
export async function writeSequences(client: pg.ClientBase, schema: string, states: SequenceState[], sharedTarget: boolean): Promise<void> {
  for (const s of states) {
    const { rows } = await client.query<{ seq: string }>('select pg_get_serial_sequence($1, $2) as seq', [`${ident(schema)}.${ident(s.table)}`, s.column])
    if (!rows[0]?.seq) continue
    if (sharedTarget) {
      await client.query(`select setval($1::regclass, greatest((select last_value from ${rows[0].seq}), $2::bigint), true)`, [rows[0].seq, s.lastValue])
    } else {
      await client.query('select setval($1::regclass, $2::bigint, $3)', [rows[0].seq, s.lastValue, s.isCalled])
    }
  }
}

export { rollbackQuietly as abandonTransaction } from '../../db/connection.js'

const keyFilter = (schema: string, shape: TableShape, key: string[]) =>
  `(${key.map(ident).join(', ')}) in (select ${key.map(ident).join(', ')} from jsonb_populate_recordset(null::${ident(schema)}.${ident(shape.name)}, $1::jsonb))`

/** Row count and content checksum of the rows with the given keys (the same formula as tableChecksum). */
export async function keysChecksum(
  client: pg.ClientBase,
  schema: string,
  shape: TableShape,
  key: string[],
  keys: unknown[],
  tenantId: string | null,
): Promise<{ rows: number; checksum: string }> {
  const list = shape.columns.length ? shape.columns.map(ident).join(', ') : 'null'
  const tenant = shape.hasTenantId && tenantId ? ` and tenant_id = ${literal(tenantId)}::uuid` : ''
  const { rows } = await client.query<{ n: string | number; s: string }>(
    `select count(*)::bigint as n, coalesce(sum(${rowHash(list)}), 0)::text as s
       from ${ident(schema)}.${ident(shape.name)} where ${keyFilter(schema, shape, key)}${tenant}`,
    [JSON.stringify(keys)],
  )
  const n = Number(rows[0]!.n)
  return { rows: n, checksum: createHash('sha256').update(`${n}:${rows[0]!.s}`).digest('hex').slice(0, 32) }
}

/** The tenant's row count in a table (every row of a table without tenant_id). */
export async function tableCount(client: pg.ClientBase, schema: string, shape: TableShape, tenantId: string | null): Promise<number> {
  const { rows } = await client.query<{ n: string | number }>(`select count(*)::bigint as n from ${ident(schema)}.${ident(shape.name)}${tenantFilter(shape, tenantId)}`)
  return Number(rows[0]!.n)
}
