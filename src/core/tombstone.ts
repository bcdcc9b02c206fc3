import type pg from 'pg'
import { ident } from '../sql/ident.js'

/**
 * Tombstones of tenants that moved out of a shared placement. An application with a stale
 * routing cache may keep writing a moved tenant's rows into the old shared tables, where nobody
 * reads them: a BEFORE INSERT OR UPDATE trigger on each tenant table refuses rows of a tenant
 * listed here (SQLSTATE 55000, "moved to ..."), until the tenant comes back or is dropped.
 * Placements of a tenant's own need none: their schema or database is dropped (or kept, fenced).
 *
 * Cost: one primary-key lookup in a small table per insert or update of a shared table, once any
 * tenant has moved out of it. The objects live in `janua_guard` and are named janua_* (verify skips them).
 */
export const GUARD_SCHEMA = 'janua_guard'
const TABLE = 'moved_tenants'
const FUNCTION = 'refuse_moved_tenant'
const TRIGGER = 'janua_tombstone'

export async function installTombstone(client: pg.ClientBase, schema: string, tables: string[], tenant: { id: string; slug: string }, movedTo: string): Promise<void> {
  const g = ident(GUARD_SCHEMA)
  await client.query(`create schema if not exists ${g}`)
  await client.query(`revoke all on schema ${g} from public`)
  await client.query(
    `create table if not exists ${g}.${ident(TABLE)} (tenant_id uuid primary key, slug text not null, moved_to text not null, at timestamptz not null default now())`,
  )
  await client.query(`revoke all on ${g}.${ident(TABLE)} from public`)
  // SECURITY DEFINER: the app role writes the rows, and must not read janua's list.
  await client.query(`create or replace function ${g}.${ident(FUNCTION)}() returns trigger language plpgsql security definer set search_path = pg_catalog as $tomb$
declare
  moved record;
begin
  select slug, moved_to into moved from janua_guard.moved_tenants where tenant_id = new.tenant_id;
  if found then
    raise exception 'tenant % moved to %: its rows are no longer written here', moved.slug, moved.moved_to
      using errcode = '55000', hint = 'refresh the tenant''s placement (janua.resolve_tenant or janua tenant inspect ' || moved.slug || ') and write there';
  end if;
  return new;
end
$tomb$`)
  await client.query(`revoke all on function ${g}.${ident(FUNCTION)}() from public`)
  await client.query(
    `insert into ${g}.${ident(TABLE)} (tenant_id, slug, moved_to) values ($1, $2, $3) on conflict (tenant_id) do update set slug = excluded.slug, moved_to = excluded.moved_to, at = now()`,
    [tenant.id, tenant.slug, movedTo],
  )
  for (const table of tables) {
    await client.query(`create or replace trigger ${ident(TRIGGER)} before insert or update of tenant_id on ${ident(schema)}.${ident(table)}
      for each row execute function ${g}.${ident(FUNCTION)}()`)
  }
}

/** The tenant is welcome again (it moves back) or gone (dropped): its tombstone goes; the triggers stay for others. */
export async function removeTombstone(client: pg.ClientBase, tenantId: string): Promise<void> {
  const { rows } = await client.query<{ t: string | null }>('select to_regclass($1) as t', [`${GUARD_SCHEMA}.${TABLE}`])
  if (rows[0]?.t) await client.query(`delete from ${ident(GUARD_SCHEMA)}.${ident(TABLE)} where tenant_id = $1`, [tenantId])
}
