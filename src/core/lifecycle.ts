import type pg from 'pg'
import { placementTables } from '../catalog/tables.js'
import { inTransaction } from '../db/connection.js'
import { COMMERCIAL_STATUSES, type CommercialStatus, type Suspension } from '../db/schema.js'
import { ident } from '../sql/ident.js'
import type { Janua } from './context.js'
import { knownControlPlane } from './control-plane.js'
import { usageError } from './errors.js'
import { installSuspensionFence, lockForTriggers, removeSuspensionFence } from './fence.js'
import { driverFor, type IsolationDriver } from './isolation/index.js'
import { finishOperation, startOperation } from './journal.js'
import type { Placement } from './placement.js'
import { failOperation, getTenant, withTenantLock } from './tenants.js'
import { isPgError, translateError } from '../db/errors.js'
import { ensureDomainFree, validateDomain } from './directory.js'
import { tenantRole } from './tenant-access.js'
import { GUARD_SCHEMA } from './tombstone.js'
import { validateTenantName, validateText } from './validate.js'

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

export interface SuspendResult {
  slug: string
  id: string
  commercialStatus: CommercialStatus
  suspension: Suspension | null
}

interface Target {
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
  await lockForTriggers(client, schema, missing, 'access exclusive')
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
  await lockForTriggers(client, schema, withPolicy, 'access exclusive')
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

async function applySuspension(janua: Janua, target: Target, mode: Suspension['mode'] | null): Promise<void> {
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

/** Pure: the suspension a suspend leads to (a suspended tenant may change mode or reason). */
export function decideSuspension(
  current: { status: string; commercialStatus: CommercialStatus; suspension: Suspension | null },
  input: { reason?: string; noRead?: boolean },
  now: Date,
): Suspension {
  if (current.status !== 'active') throw usageError(`tenant is ${current.status}`, 'suspend it once it is active again (finish or abort its move first)')
  if (input.reason !== undefined) validateText('the reason', '--reason', input.reason, 500)
  return {
    mode: input.noRead ? 'no-read' : 'read-only',
    reason: input.reason?.trim() ?? current.suspension?.reason ?? null,
    at: current.suspension?.at ?? now.toISOString(),
    previousStatus: current.suspension?.previousStatus ?? current.commercialStatus,
  }
}

async function lifecycleOperation<T>(
  janua: Janua,
  row: { id: string; slug: string; placement_id: string },
  kind: string,
  detail: Record<string, unknown>,
  fn: () => Promise<T>,
): Promise<T> {
  const operationId = await startOperation(janua, { kind, tenantId: row.id, tenantSlug: row.slug, placementId: String(row.placement_id), step: kind.split('.')[1], detail })
  try {
    const result = await fn()
    await finishOperation(janua, operationId, 'succeeded', undefined, { ...detail, result })
    return result
  } catch (error) {
    throw await failOperation(janua, operationId, translateError(error, kind))
  }
}

export async function suspendTenant(janua: Janua, slug: string, input: { reason?: string; noRead?: boolean } = {}): Promise<SuspendResult> {
  await getTenant(janua, slug)
  return withTenantLock(janua, slug, async () => {
    const row = await getTenant(janua, slug)
    const suspension = decideSuspension({ status: row.status, commercialStatus: row.commercial_status, suspension: row.suspension }, input, new Date())
    const target: Target = { driver: driverFor(row.isolation), placement: { server: row.server, database: row.database, schema: row.schema }, tenant: { id: row.id, slug } }
    return lifecycleOperation(janua, row, 'tenant.suspend', { mode: suspension.mode, reason: suspension.reason }, async () => {
      // The database first: a kill in between leaves a fenced tenant recorded active, which a re-run completes.
      if (row.suspension?.mode === 'no-read' && suspension.mode === 'read-only') await applySuspension(janua, target, null)
      await applySuspension(janua, target, suspension.mode)
      await janua.db
        .updateTable('janua.tenants')
        .set({ commercial_status: 'suspended', suspension: JSON.stringify(suspension), updated_at: new Date() })
        .where('id', '=', row.id)
        .execute()
      return { slug, id: row.id, commercialStatus: 'suspended' as const, suspension }
    })
  })
}

export async function resumeTenant(janua: Janua, slug: string): Promise<SuspendResult> {
  await getTenant(janua, slug)
  return withTenantLock(janua, slug, async () => {
    const row = await getTenant(janua, slug)
    if (row.status !== 'active') throw usageError(`tenant "${slug}" is ${row.status}`, 'resume it once it is active again')
    const target: Target = { driver: driverFor(row.isolation), placement: { server: row.server, database: row.database, schema: row.schema }, tenant: { id: row.id, slug } }
    const status: CommercialStatus = row.suspension?.previousStatus ?? (row.commercial_status === 'suspended' ? 'active' : row.commercial_status)
    return lifecycleOperation(janua, row, 'tenant.resume', { status }, async () => {
      // Lifted even when not recorded (a kill between the fence and the record): resume is always safe to run.
      await applySuspension(janua, target, null)
      await janua.db.updateTable('janua.tenants').set({ commercial_status: status, suspension: null, updated_at: new Date() }).where('id', '=', row.id).execute()
      return { slug, id: row.id, commercialStatus: status, suspension: null }
    })
  })
}

export interface UpdateInput {
  status?: string
  plan?: string
  /** key=value; the value is read as JSON when it parses (numbers, true, false), else as text; key=null removes the key */
  limits?: string[]
  name?: string
  /** a host name, or null to remove the tenant's domain */
  domain?: string | null
}

export interface UpdateResult {
  slug: string
  id: string
  name: string
  commercialStatus: CommercialStatus
  plan: string | null
  limits: Record<string, unknown>
  domain: string | null
  changed: string[]
}

/** Pure: the new commercial record, or a refusal. Status `suspended` goes through `tenant suspend` (it changes the database, not only the record). */
export function decideUpdate(
  current: { slug: string; name: string; commercialStatus: CommercialStatus; plan: string | null; limits: Record<string, unknown>; domain: string | null },
  input: UpdateInput,
): Omit<UpdateResult, 'id'> {
  const changed: string[] = []
  let commercialStatus = current.commercialStatus
  if (input.status !== undefined) {
    if (!(COMMERCIAL_STATUSES as readonly string[]).includes(input.status))
      throw usageError(`invalid status "${input.status}"`, `use --status ${COMMERCIAL_STATUSES.filter((s) => s !== 'suspended').join('|')}`)
    if (input.status === 'suspended')
      throw usageError('--status suspended is set by `janua tenant suspend`', `run: janua tenant suspend ${current.slug} [--reason ...] [--no-read]`)
    if (current.commercialStatus === 'suspended')
      throw usageError(`tenant "${current.slug}" is suspended`, `run \`janua tenant resume ${current.slug}\` first (it restores the status it had)`)
    commercialStatus = input.status as CommercialStatus
    changed.push('status')
  }
  let plan = current.plan
  if (input.plan !== undefined) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/.test(input.plan)) throw usageError(`invalid plan code "${input.plan}"`, 'use letters, digits and _ . : - (at most 64)')
    plan = input.plan
    changed.push('plan')
  }
  const limits = { ...current.limits }
  for (const pair of input.limits ?? []) {
    const at = pair.indexOf('=')
    const key = at > 0 ? pair.slice(0, at) : ''
    if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(key)) throw usageError(`invalid limit "${pair}"`, 'use --limit key=value, e.g. --limit max_users=50')
    const text = pair.slice(at + 1)
    let value: unknown = text
    try {
      value = JSON.parse(text)
    } catch {
      // Not JSON: the value is the text itself (e.g. --limit tier=gold).
    }
    if (value === null) delete limits[key]
    else limits[key] = value
    changed.push(`limits.${key}`)
  }
  let name = current.name
  if (input.name !== undefined) {
    name = validateTenantName(input.name)
    changed.push('name')
  }
  let domain = current.domain
  if (input.domain !== undefined) {
    domain = input.domain === null ? null : validateDomain(input.domain)
    changed.push('domain')
  }
  if (!changed.length) throw usageError('nothing to update', 'pass --status, --plan, --limit key=value, --name, --domain or --clear-domain')
  return { slug: current.slug, name, commercialStatus, plan, limits, domain, changed }
}

export async function updateTenant(janua: Janua, slug: string, input: UpdateInput): Promise<UpdateResult> {
  await getTenant(janua, slug)
  return withTenantLock(janua, slug, async () => {
    const row = await getTenant(janua, slug)
    const before = { slug, name: row.name, commercialStatus: row.commercial_status, plan: row.plan, limits: row.limits ?? {}, domain: row.domain }
    const next = decideUpdate(before, input)
    // A taken domain is refused before the operation is journaled (exit 2, nothing recorded).
    if (next.domain !== null && next.domain !== before.domain) await ensureDomainFree(janua, next.domain, row.id)
    return lifecycleOperation(janua, row, 'tenant.update', { before, changed: next.changed }, async () => {
      try {
        await janua.db
          .updateTable('janua.tenants')
          .set({ name: next.name, commercial_status: next.commercialStatus, plan: next.plan, limits: JSON.stringify(next.limits), domain: next.domain, updated_at: new Date() })
          .where('id', '=', row.id)
          .execute()
      } catch (error) {
        // 23505: another run took the domain between the check and the update.
        if (isPgError(error) && error.code === '23505') throw usageError(`the domain ${next.domain} belongs to another tenant`, 'choose another domain')
        throw error
      }
      return { ...next, id: row.id }
    })
  })
}
