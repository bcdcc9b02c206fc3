import type pg from 'pg'
import { ident, literal } from '../sql/ident.js'

/**
 * The write fence of a moving tenant, enforced by the database: a row trigger on every tenant
 * table raises for inserts, updates and deletes of that tenant's rows; reads and other tenants
 * are untouched. CREATE TRIGGER waits for in-flight writers, so once the fence is committed no
 * write of the tenant is pending. janua_* objects are janua's, not the templates': verify skips them.
 */
const GUARD = 'janua_fence_guard'

export const fenceTriggerName = (tenantId: string) => `janua_fence_${tenantId.replaceAll('-', '').slice(0, 16)}`

/** `wholeTables`: tables without tenant_id of a placement of the tenant's own, fenced for every row. */
export async function installFence(client: pg.ClientBase, schema: string, tables: string[], tenant: { id: string; slug: string }, wholeTables: string[] = []): Promise<void> {
  const s = ident(schema)
  // tg_argv[0] = '' fences every row (a table without tenant_id in a placement of the tenant's own).
  await client.query(`create or replace function ${s}.${ident(GUARD)}() returns trigger language plpgsql as $fence$
begin
  if tg_argv[0] = '' then
    raise exception 'tenant % is being moved by janua: its writes are paused until the move finishes', tg_argv[1]
      using errcode = '55000', hint = 'retry after the move; see janua tenant inspect ' || tg_argv[1];
  end if;
  if (tg_op <> 'INSERT' and old.tenant_id::text = tg_argv[0]) or (tg_op <> 'DELETE' and new.tenant_id::text = tg_argv[0]) then
    raise exception 'tenant % is being moved by janua: its writes are paused until the move finishes', tg_argv[1]
      using errcode = '55000', hint = 'retry after the move; see janua tenant inspect ' || tg_argv[1];
  end if;
  if tg_op = 'DELETE' then
    return old;
  end if;
  return new;
end
$fence$`)
  const trigger = ident(fenceTriggerName(tenant.id))
  for (const table of [...tables, ...wholeTables]) {
    const rows = wholeTables.includes(table) ? '' : tenant.id
    await client.query(`drop trigger if exists ${trigger} on ${s}.${ident(table)}`)
    await client.query(`create trigger ${trigger} before insert or update or delete on ${s}.${ident(table)}
      for each row execute function ${s}.${ident(GUARD)}(${literal(rows)}, ${literal(tenant.slug)})`)
  }
}

export async function removeFence(client: pg.ClientBase, schema: string, tables: string[], tenantId: string): Promise<void> {
  const trigger = ident(fenceTriggerName(tenantId))
  for (const table of tables) {
    const exists = await client.query('select to_regclass($1) as t', [`${ident(schema)}.${ident(table)}`])
    if (exists.rows[0]?.t) await client.query(`drop trigger if exists ${trigger} on ${ident(schema)}.${ident(table)}`)
  }
}
