import type pg from 'pg'
import { placementTables } from '../catalog/tables.js'
import { ident } from '../sql/ident.js'

/**
 * The distinct tenant ids present in each tenant table of a placement, by a loose index scan
 * (one index probe per distinct id, cheap with indexes led by tenant_id, whatever the row count).
 */
export async function tenantIdsIn(client: pg.ClientBase, schema: string): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>()
  for (const table of (await placementTables(client, schema)).filter((t) => t.hasTenantId)) {
    const q = `${ident(schema)}.${ident(table.name)}`
    const { rows } = await client.query<{ tenant_id: string }>(
      `with recursive ids as (
         (select tenant_id from ${q} where tenant_id is not null order by tenant_id limit 1)
         union all
         select (select x.tenant_id from ${q} x where x.tenant_id > ids.tenant_id order by x.tenant_id limit 1) from ids where ids.tenant_id is not null
       )
       select tenant_id::text from ids where tenant_id is not null`,
    )
    result.set(
      table.name,
      rows.map((r) => r.tenant_id),
    )
  }
  return result
}

/**
 * Pure: rows of tenant ids that are not placed in this placement (nor kept or moving there): rows
 * nobody reads, e.g. written by a stale application after the tenant moved, or left by hand.
 */
export function unplacedTenantRows(found: Map<string, string[]>, expected: Iterable<string>): { table: string; tenantIds: string[] }[] {
  const known = new Set(expected)
  return [...found].map(([table, ids]) => ({ table, tenantIds: ids.filter((id) => !known.has(id)) })).filter((t) => t.tenantIds.length > 0)
}
