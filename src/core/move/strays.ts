import type pg from 'pg'
import { CAPTURE_SCHEMA } from './capture.js'

/**
 * janua's move objects found in a database: capture log tables and capture or fence triggers,
 * each tagged with the 16-hex prefix of its tenant's id. One catalog query per database.
 */
export interface MoveObject {
  kind: 'capture-log' | 'capture-trigger' | 'fence-trigger' | 'capture-slot' | 'capture-publication'
  /** schema.table */
  object: string
  tenantPrefix: string
}

/**
 * `schemas`: only triggers on tables of these schemas (a --tenant verify of one schema among
 * thousands); without it, every table of the database. Relations are found through their
 * dependency on the namespace (pg_depend's reference index): pg_class has no index led by the
 * namespace, and scanning it and pg_trigger took 90 ms in a database of 10,000 schemas.
 */
export async function moveObjectsIn(client: pg.ClientBase, schemas?: string[]): Promise<MoveObject[]> {
  const relationsOf = `pg_namespace n join pg_depend nd on nd.refclassid = 'pg_namespace'::regclass and nd.refobjid = n.oid and nd.classid = 'pg_class'::regclass and nd.deptype = 'n'
       join pg_class c on c.oid = nd.objid`
  const triggered = `not t.tgisinternal and (t.tgname like 'janua\\_capture\\_%' or t.tgname like 'janua\\_fence\\_%')`
  const { rows } = await client.query<{ kind: MoveObject['kind']; object: string; prefix: string }>(
    `select 'capture-log' as kind, n.nspname || '.' || c.relname as object, substr(c.relname, 5) as prefix
       from ${relationsOf}
      where n.nspname = $1 and c.relkind = 'r' and c.relname like 'log\\_%'
     union all
     select case when t.tgname like 'janua\\_capture\\_%' then 'capture-trigger' else 'fence-trigger' end,
            n.nspname || '.' || c.relname || ' (' || t.tgname || ')',
            substr(regexp_replace(t.tgname, '^janua_(capture|fence)_', ''), 1, 16)
       from ${
         schemas
           ? `${relationsOf} join pg_trigger t on t.tgrelid = c.oid where n.nspname = any($2::text[]) and ${triggered}`
           : `pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace where ${triggered}`
       }
     union all
     select 'capture-slot', 'slot ' || slot_name, substr(slot_name, 12)
       from pg_replication_slots where database = current_database() and slot_name like 'janua\\_move\\_%'
     union all
     select 'capture-publication', 'publication ' || pubname, substr(pubname, 12)
       from pg_publication where pubname like 'janua\\_move\\_%'
      order by 2`,
    schemas ? [CAPTURE_SCHEMA, schemas] : [CAPTURE_SCHEMA],
  )
  return rows.map((r) => ({ kind: r.kind, object: r.object, tenantPrefix: r.prefix }))
}

/**
 * Pure: the objects that belong to no running move and to no kept source. A capture trigger or log
 * left behind slows every write of that table (and a log grows forever); a fence left behind
 * refuses a tenant's writes. `running` and `kept` are tenant ids.
 */
export function strayMoveObjects(objects: MoveObject[], running: string[], kept: string[]): MoveObject[] {
  const prefix = (id: string) => id.replaceAll('-', '').slice(0, 16)
  const moving = new Set(running.map(prefix))
  const keeping = new Set(kept.map(prefix))
  return objects.filter((o) => !moving.has(o.tenantPrefix) && !(o.kind === 'fence-trigger' && keeping.has(o.tenantPrefix)))
}

/** A logical slot of a janua move on a server (slots are cluster-wide): what db status lists when its move is not running. */
export interface MoveSlot {
  server: string
  slot: string
  database: string
  tenantPrefix: string
  /** WAL the slot keeps from being recycled */
  retainedBytes: number
}

export async function moveSlotsOn(client: pg.ClientBase, server: string): Promise<MoveSlot[]> {
  const { rows } = await client.query<{ slot: string; database: string; bytes: string | null }>(
    `select slot_name::text as slot, database::text as database, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text as bytes
       from pg_replication_slots where slot_name like 'janua\\_move\\_%' order by 1`,
  )
  return rows.map((r) => ({ server, slot: r.slot, database: r.database, tenantPrefix: r.slot.slice(11), retainedBytes: Number(r.bytes ?? 0) }))
}
