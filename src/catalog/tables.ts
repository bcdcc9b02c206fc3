import type pg from 'pg'
import { HISTORY_TABLE } from '../sql/names.js'

export interface TableInfo {
  name: string
  hasTenantId: boolean
  rlsEnabled: boolean
  rlsForced: boolean
}

/**
 * The placement's tables (not partitions, not janua's history), parents before children so that
 * rows can be inserted in this order and deleted in the reverse one.
 */
export async function placementTables(client: pg.ClientBase, schema: string): Promise<TableInfo[]> {
  const { rows: tables } = await client.query<{ oid: number; name: string; rls: boolean; forced: boolean; has_tenant_id: boolean }>(
    `select c.oid::int as oid, c.relname as name, c.relrowsecurity as rls, c.relforcerowsecurity as forced,
            exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped) as has_tenant_id
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p') and not c.relispartition and c.relname <> $2
      order by c.relname`,
    [schema, HISTORY_TABLE],
  )
  const { rows: edges } = await client.query<{ child: number; parent: number }>(
    `select con.conrelid::int as child, con.confrelid::int as parent
       from pg_constraint con join pg_namespace n on n.oid = con.connamespace
      where n.nspname = $1 and con.contype = 'f' and con.conrelid <> con.confrelid`,
    [schema],
  )
  const parentsOf = new Map<number, Set<number>>()
  for (const e of edges) {
    if (!parentsOf.has(e.child)) parentsOf.set(e.child, new Set())
    parentsOf.get(e.child)!.add(e.parent)
  }
  const byOid = new Map(tables.map((t) => [t.oid, t]))
  const ordered: typeof tables = []
  const state = new Map<number, 'visiting' | 'done'>()
  const visit = (oid: number) => {
    if (state.get(oid) === 'done' || state.get(oid) === 'visiting' || !byOid.has(oid)) return
    state.set(oid, 'visiting')
    for (const parent of parentsOf.get(oid) ?? []) visit(parent)
    state.set(oid, 'done')
    ordered.push(byOid.get(oid)!)
  }
  for (const t of tables) visit(t.oid)
  return ordered.map((t) => ({ name: t.name, hasTenantId: t.has_tenant_id, rlsEnabled: t.rls, rlsForced: t.forced }))
}
