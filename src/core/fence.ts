import type pg from 'pg'
import { isPgError } from '../db/errors.js'
import { ident, literal } from '../sql/ident.js'
import { ExitCode, JanuaError } from './errors.js'

/**
 * The write fence of a moving tenant, enforced by the database: a row trigger on every tenant
 * table raises for inserts, updates and deletes of that tenant's rows; reads and other tenants
 * are untouched. CREATE TRIGGER waits for in-flight writers, so once the fence is committed no
 * write of the tenant is pending. janua_* objects are janua's, not the templates': verify skips them.
 */
const GUARD = 'janua_fence_guard'

/**
 * Locks tables of a placement for a trigger change (or a publication's drop), all of them or none, in the caller's
 * transaction: one LOCK TABLE under a short statement_timeout, inside a savepoint, retried with
 * jitter. Taken table by table (as CREATE / DROP TRIGGER do), the locks deadlock with an
 * application transaction that holds one of the tables and then writes another we already hold;
 * PostgreSQL may then abort the application's transaction (40P01). Giving up after `attemptMs`
 * (well under deadlock_timeout, 1 s by default) makes janua the one that yields, and bounds how
 * long the writes queued behind the lock wait. 'share row exclusive' is what CREATE TRIGGER needs
 * (reads go on); DROP TRIGGER needs 'access exclusive'.
 */
export async function lockTables(
  client: pg.ClientBase,
  schema: string,
  tables: string[],
  mode: 'share row exclusive' | 'access exclusive',
  options: { attemptMs?: number; attempts?: number; purpose?: string } = {},
): Promise<void> {
  if (!tables.length) return
  const attemptMs = options.attemptMs ?? 200
  const attempts = options.attempts ?? 150
  const list = tables.map((t) => `${ident(schema)}.${ident(t)}`).join(', ')
  const { rows } = await client.query<{ timeout: string }>(`select current_setting('statement_timeout') as timeout`)
  for (let attempt = 1; ; attempt++) {
    try {
      await client.query('savepoint janua_trigger_lock')
    } catch (error) {
      // 25P01: not in a transaction block. Each trigger statement is then its own transaction and
      // holds one table at a time: there is no set of locks to take together.
      if (isPgError(error) && error.code === '25P01') return
      throw error
    }
    try {
      await client.query(`select set_config('statement_timeout', $1, true)`, [`${attemptMs}ms`])
      await client.query(`lock table ${list} in ${mode} mode`)
      await client.query(`select set_config('statement_timeout', $1, true)`, [rows[0]!.timeout])
      await client.query('release savepoint janua_trigger_lock')
      return
    } catch (error) {
      // 57014: our statement_timeout (an application transaction holds a table); 40P01: a deadlock
      // detected in our session. Either way: give the locks back and try again a little later.
      if (!isPgError(error) || !['57014', '55P03', '40P01'].includes(error.code ?? '')) throw error
      await client.query('rollback to savepoint janua_trigger_lock')
      if (attempt >= attempts) {
        throw new JanuaError(
          `could not lock the tables of schema ${schema} for ${options.purpose ?? "janua's triggers"}: ${attempts} tries of ${attemptMs} ms each met a busy table`,
          ExitCode.locked,
          'a long transaction holds one of these tables (see pg_stat_activity); run the command again once it has ended',
          undefined,
          undefined,
          { cause: error },
        )
      }
      await new Promise((resolve) => setTimeout(resolve, attemptMs / 2 + Math.random() * attemptMs))
    }
  }
}

/** Tables of `tables` (in the schema) that have a trigger of that name, and the ones that exist at all. */
export async function triggersOn(client: pg.ClientBase, schema: string, tables: string[], trigger: string): Promise<{ existing: string[]; withTrigger: Set<string> }> {
  const { rows } = await client.query<{ table: string; has: boolean }>(
    `select c.relname as table, exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname = $3) as has
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = any($2::text[]) and c.relkind in ('r', 'p')`,
    [schema, tables, trigger],
  )
  return { existing: tables.filter((t) => rows.some((r) => r.table === t)), withTrigger: new Set(rows.filter((r) => r.has).map((r) => r.table)) }
}

export const fenceTriggerName = (tenantId: string) => `janua_fence_${tenantId.replaceAll('-', '').slice(0, 16)}`
/** The suspension's fence: another trigger name, so a move and a suspension never lift each other's. */
export const suspensionTriggerName = (tenantId: string) => `janua_suspend_${tenantId.replaceAll('-', '').slice(0, 16)}`
const SUSPEND_GUARD = 'janua_suspend_guard'

/**
 * One guard function per schema and purpose. tg_argv[0] = '' fences every row (a table without
 * tenant_id in a placement of the tenant's own). `ownerWrites`: the table owner's writes pass
 * (janua's migrations still reach a suspended tenant); the app role's are refused.
 */
async function createGuard(client: pg.ClientBase, schema: string, guard: string, message: string, hint: string, ownerWrites: boolean): Promise<void> {
  const s = ident(schema)
  const owner = ownerWrites
    ? `  if pg_has_role(current_user, (select relowner from pg_catalog.pg_class where oid = tg_relid), 'MEMBER') then
    if tg_op = 'DELETE' then return old; end if;
    return new;
  end if;
`
    : ''
  const raise = `raise exception '${message}', tg_argv[1]
      using errcode = '55000', hint = '${hint}' || tg_argv[1];`
  await client.query(`create or replace function ${s}.${ident(guard)}() returns trigger language plpgsql as $fence$
begin
  if tg_argv[0] = '' then
${owner}    ${raise}
  end if;
  if (tg_op <> 'INSERT' and old.tenant_id::text = tg_argv[0]) or (tg_op <> 'DELETE' and new.tenant_id::text = tg_argv[0]) then
${owner}    ${raise}
  end if;
  if tg_op = 'DELETE' then
    return old;
  end if;
  return new;
end
$fence$`)
}

async function installGuardTriggers(
  client: pg.ClientBase,
  schema: string,
  guard: string,
  name: string,
  tables: string[],
  tenant: { id: string; slug: string },
  wholeTables: string[],
): Promise<void> {
  const s = ident(schema)
  const all = [...tables, ...wholeTables]
  await lockTables(client, schema, all, 'share row exclusive')
  // A trigger already there (a resumed move) is the same one: its arguments follow from the tenant.
  // Dropping it first would need an ACCESS EXCLUSIVE lock, which stops every reader of the table.
  const { withTrigger } = await triggersOn(client, schema, all, name)
  for (const table of all.filter((t) => !withTrigger.has(t))) {
    const rows = wholeTables.includes(table) ? '' : tenant.id
    await client.query(`create trigger ${ident(name)} before insert or update or delete on ${s}.${ident(table)}
      for each row execute function ${s}.${ident(guard)}(${literal(rows)}, ${literal(tenant.slug)})`)
  }
}

async function removeGuardTriggers(client: pg.ClientBase, schema: string, tables: string[], name: string): Promise<void> {
  const { withTrigger } = await triggersOn(client, schema, tables, name)
  const fenced = tables.filter((t) => withTrigger.has(t))
  await lockTables(client, schema, fenced, 'access exclusive')
  for (const table of fenced) await client.query(`drop trigger if exists ${ident(name)} on ${ident(schema)}.${ident(table)}`)
}

/** `wholeTables`: tables without tenant_id of a placement of the tenant's own, fenced for every row. */
export async function installFence(client: pg.ClientBase, schema: string, tables: string[], tenant: { id: string; slug: string }, wholeTables: string[] = []): Promise<void> {
  await createGuard(
    client,
    schema,
    GUARD,
    'tenant % is being moved by janua: its writes are paused until the move finishes',
    'retry after the move; see janua tenant inspect ',
    false,
  )
  await installGuardTriggers(client, schema, GUARD, fenceTriggerName(tenant.id), tables, tenant, wholeTables)
}

export async function removeFence(client: pg.ClientBase, schema: string, tables: string[], tenantId: string): Promise<void> {
  await removeGuardTriggers(client, schema, tables, fenceTriggerName(tenantId))
}

/** A suspended tenant's writes fail (SQLSTATE 55000, "tenant ... is suspended"); its reads go on; janua's (the owner's) writes pass. */
export async function installSuspensionFence(
  client: pg.ClientBase,
  schema: string,
  tables: string[],
  tenant: { id: string; slug: string },
  wholeTables: string[] = [],
): Promise<void> {
  await createGuard(client, schema, SUSPEND_GUARD, 'tenant % is suspended: its data is read-only', 'the operator lifts it with: janua tenant resume ', true)
  await installGuardTriggers(client, schema, SUSPEND_GUARD, suspensionTriggerName(tenant.id), tables, tenant, wholeTables)
}

export async function removeSuspensionFence(client: pg.ClientBase, schema: string, tables: string[], tenantId: string): Promise<void> {
  await removeGuardTriggers(client, schema, tables, suspensionTriggerName(tenantId))
}
