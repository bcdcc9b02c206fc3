import type pg from 'pg'
import { placementTables } from '../catalog/tables.js'
import { inTransaction } from '../db/connection.js'
import type { Suspension } from '../db/schema.js'
import { ident } from '../sql/ident.js'
import type { Janua } from './context.js'
import { knownControlPlane } from './control-plane.js'
import { installSuspensionFence, lockTables, removeSuspensionFence } from './fence.js'
import type { IsolationDriver } from './isolation/index.js'
import type { Placement } from './placement.js'
import { tenantRole } from './tenant-access.js'
import { GUARD_SCHEMA } from './tombstone.js'

/**
 * Tenant lifecycle: suspension enforced by the database, and the commercial record (status, plan,
 * limits, name). A suspension is a write fence of its own (trigger janua_suspend_<id>, SQLSTATE
 * 55000) on every table of the tenant; with --no-read the app role cannot reach the tenant either:
 * a RESTRICTIVE policy janua adds on each shared tenant table hides the rows of tenants listed in
 * janua_guard.suspended_tenants, and a placement of the tenant's own loses the app role's USAGE
 * on its schema (and CONNECT on its database). janua's own sessions (the tables' owner) are not
 * fenced: `tenant migrate` still reaches a suspended tenant.
 */

const SUSPENDED_TABLE = 'suspended_tenants'
const IS_SUSPENDED = 'is_suspended'
const NO_READ_POLICY = 'janua_suspended'

export interface Target {
  driver: IsolationDriver
  placement: Placement
  tenant: { id: string; slug: string }
}

async function tenantTables(client: pg.ClientBase, schema: string, driver: IsolationDriver): Promise<{ tables: string[]; whole: string[] }> {
  const all = await placementTables(client, schema)
  return {
    tables: all.filter((t) => t.hasTenantId).map((t) => t.name),
    // A placement of the tenant's own: every table is the tenant's, with tenant_id or not.
    whole: driver.sharesPlacement ? [] : all.filter((t) => !t.hasTenantId).map((t) => t.name),
  }
}

/** The shared placement's no-read guard: the list, the lookup the policies call, a restrictive policy per tenant table. */
async function installNoReadGuard(client: pg.ClientBase, schema: string, tables: string[], tenant: { id: string; slug: string }, appRole: string): Promise<void> {
  const g = ident(GUARD_SCHEMA)
  await client.query(`create schema if not exists ${g}`)
  await client.query(`revoke all on schema ${g} from public`)
  await client.query(`grant usage on schema ${g} to ${ident(appRole)}`)
  await client.query(`create table if not exists ${g}.${ident(SUSPENDED_TABLE)} (tenant_id uuid primary key, slug text not null, at timestamptz not null default now())`)
  await client.query(`revoke all on ${g}.${ident(SUSPENDED_TABLE)} from public`)
  // SECURITY DEFINER: the app role's queries call it, and must not read janua's list themselves.
  await client.query(`create or replace function ${g}.${ident(IS_SUSPENDED)}(t text) returns boolean language sql stable security definer set search_path = pg_catalog as $f$
    select exists (select 1 from janua_guard.suspended_tenants where tenant_id = t::uuid)
  $f$`)
  await client.query(`revoke all on function ${g}.${ident(IS_SUSPENDED)}(text) from public`)
  await client.query(`grant execute on function ${g}.${ident(IS_SUSPENDED)}(text) to ${ident(appRole)}`)
  await client.query(`insert into ${g}.${ident(SUSPENDED_TABLE)} (tenant_id, slug) values ($1, $2) on conflict (tenant_id) do nothing`, [tenant.id, tenant.slug])
  const missing = await tablesWithoutPolicy(client, schema, tables)
  await lockTables(client, schema, missing, 'access exclusive')
  for (const table of missing) {
    await client.query(
      `create policy ${ident(NO_READ_POLICY)} on ${ident(schema)}.${ident(table)} as restrictive for all to public using (not ${g}.${ident(IS_SUSPENDED)}(tenant_id::text))`,
    )
  }
}

async function tablesWithoutPolicy(client: pg.ClientBase, schema: string, tables: string[], has = false): Promise<string[]> {
  const { rows } = await client.query<{ table: string }>(
    `select c.relname as table from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = any($2::text[]) and exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polname = $3)`,
    [schema, tables, NO_READ_POLICY],
  )
  const with_ = new Set(rows.map((r) => r.table))
  return tables.filter((t) => with_.has(t) === has)
}

/** The tenant leaves the list; the policies go once no tenant of the placement's database is listed (they cost a lookup per row). */
async function removeNoReadGuard(client: pg.ClientBase, schema: string, tables: string[], tenantId: string): Promise<void> {
  const { rows } = await client.query<{ t: string | null }>('select to_regclass($1) as t', [`${GUARD_SCHEMA}.${SUSPENDED_TABLE}`])
  if (!rows[0]?.t) return
  await client.query(`delete from ${ident(GUARD_SCHEMA)}.${ident(SUSPENDED_TABLE)} where tenant_id = $1`, [tenantId])
  const { rows: left } = await client.query<{ n: number }>(`select count(*)::int as n from ${ident(GUARD_SCHEMA)}.${ident(SUSPENDED_TABLE)}`)
  if (left[0]!.n > 0) return
  const withPolicy = await tablesWithoutPolicy(client, schema, tables, true)
  await lockTables(client, schema, withPolicy, 'access exclusive')
  for (const table of withPolicy) await client.query(`drop policy if exists ${ident(NO_READ_POLICY)} on ${ident(schema)}.${ident(table)}`)
}

/** Placements of the tenant's own: the app role loses USAGE on the schema (and CONNECT on an own database), or gets it back. */
async function setOwnReach(janua: Janua, target: Target, client: pg.ClientBase, reach: boolean): Promise<void> {
  // The tenant's own login roles (tenant credentials) reach the placement through its tenant role: it loses the same privileges.
  const cpId = knownControlPlane(janua)
  const own = cpId ? (await client.query<{ rolname: string }>('select rolname from pg_roles where rolname = $1', [tenantRole(cpId, target.tenant.slug)])).rows : []
  for (const name of [janua.appRole, ...own.map((r) => r.rolname)]) {
    const role = ident(name)
    const schema = ident(target.placement.schema)
    await client.query(reach ? `grant usage on schema ${schema} to ${role}` : `revoke usage on schema ${schema} from ${role}`)
    if (target.driver.ownsDatabase) {
      const db = ident(target.placement.database)
      await client.query(reach ? `grant connect on database ${db} to ${role}` : `revoke connect on database ${db} from ${role}`)
    }
  }
}

export async function applySuspension(janua: Janua, target: Target, mode: Suspension['mode'] | null): Promise<void> {
  const { driver, placement, tenant } = target
  await driver.connect(janua, placement, (client) =>
    inTransaction(client, async () => {
      const { tables, whole } = await tenantTables(client, placement.schema, driver)
      if (mode) await installSuspensionFence(client, placement.schema, tables, tenant, whole)
      else await removeSuspensionFence(client, placement.schema, [...tables, ...whole], tenant.id)
      if (driver.sharesPlacement) {
        if (mode === 'no-read') await installNoReadGuard(client, placement.schema, tables, tenant, janua.appRole)
        else await removeNoReadGuard(client, placement.schema, tables, tenant.id)
      } else {
        await setOwnReach(janua, target, client, mode !== 'no-read')
      }
    }),
  )
}
