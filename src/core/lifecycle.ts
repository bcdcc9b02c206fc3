import { COMMERCIAL_STATUSES, type CommercialStatus, type Suspension } from '../db/schema.js'
import type { Janua } from './context.js'
import { usageError } from './errors.js'
import { driverFor } from './isolation/index.js'
import { applySuspension, type Target } from './suspension.js'
import { finishOperation, startOperation } from './journal.js'
import { failOperation, getTenant, withTenantLock } from './tenants.js'
import { isPgError, translateError } from '../db/errors.js'
import { ensureDomainFree, validateDomain } from './directory.js'
import { validateTenantName, validateText } from './validate.js'

/**
 * Tenant lifecycle: suspension (its database side is in suspension.ts) and the commercial record
 * (status, plan, limits, name, domain).
 */

export interface SuspendResult {
  slug: string
  id: string
  commercialStatus: CommercialStatus
  suspension: Suspension | null
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
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      // Not JSON: the value is the text itself (e.g. --limit tier=gold); nothing is lost.
      value = text
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
