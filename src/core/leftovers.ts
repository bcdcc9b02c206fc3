import type { Kysely } from 'kysely'
import { translateError } from '../db/errors.js'
import type { ControlPlane, LeftoversTable } from '../db/schema.js'
import type { Janua } from './context.js'
import { usageError } from './errors.js'
import { driverForLeftover } from './isolation/index.js'
import { describePlacement, type Placement } from './placement.js'

/**
 * What janua could not remove, or kept on purpose: the target of an aborted move whose server was
 * down, a source kept by --keep-source. Recorded before janua lets go of it, shown by inspect,
 * status and verify, removed by `janua tenant cleanup` (or `tenant drop`).
 */
export interface Leftover {
  id: string
  tenantId: string | null
  tenantSlug: string | null
  kind: LeftoversTable['kind']
  what: LeftoversTable['what']
  placement: Placement
  error: string | null
  createdAt: string
}

type Db = Kysely<ControlPlane>

export async function recordLeftover(
  db: Db,
  input: { tenant: { id: string; slug: string }; operationId?: string; kind: Leftover['kind']; what: Leftover['what']; placement: Placement; detail?: Record<string, unknown> },
): Promise<string> {
  const row = await db
    .insertInto('janua.leftovers')
    .values({
      tenant_id: input.tenant.id,
      tenant_slug: input.tenant.slug,
      operation_id: input.operationId ?? null,
      kind: input.kind,
      what: input.what,
      server: input.placement.server,
      database: input.placement.database,
      schema: input.placement.schema,
      detail: JSON.stringify(input.detail ?? {}),
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  return String(row.id)
}

export async function listLeftovers(janua: Janua, filter: { tenantId?: string; slug?: string; server?: string } = {}): Promise<Leftover[]> {
  let query = janua.db.selectFrom('janua.leftovers').selectAll().orderBy('id')
  if (filter.tenantId) query = query.where('tenant_id', '=', filter.tenantId)
  if (filter.slug) query = query.where('tenant_slug', '=', filter.slug)
  if (filter.server) query = query.where('server', '=', filter.server)
  return (await query.execute()).map((r) => ({
    id: String(r.id),
    tenantId: r.tenant_id,
    tenantSlug: r.tenant_slug,
    kind: r.kind,
    what: r.what,
    placement: { server: r.server, database: r.database, schema: r.schema },
    error: r.error,
    createdAt: new Date(r.created_at).toISOString(),
  }))
}

export interface LeftoverOutcome extends Leftover {
  removed: boolean
}

/**
 * Removes one leftover through the driver whose placements leave that kind. Never the tenant's
 * live placement: a leftover that is now where the tenant lives is refused (its row stays).
 * A failure is recorded on the row and returned, not thrown: the caller reports it.
 */
export async function removeLeftover(janua: Janua, leftover: Leftover, live?: Placement): Promise<LeftoverOutcome> {
  const same = live && live.server === leftover.placement.server && live.database === leftover.placement.database && live.schema === leftover.placement.schema
  if (same && leftover.what !== 'rows') {
    const error = `${describePlacement(leftover.placement)} is now the tenant's live placement; not removed`
    await janua.db.updateTable('janua.leftovers').set({ error }).where('id', '=', leftover.id).execute()
    return { ...leftover, error, removed: false }
  }
  if (same) {
    const error = `the tenant lives in ${describePlacement(leftover.placement)} again; its rows there are live, not removed (delete this record once checked)`
    await janua.db.updateTable('janua.leftovers').set({ error }).where('id', '=', leftover.id).execute()
    return { ...leftover, error, removed: false }
  }
  try {
    const tenant = { id: leftover.tenantId ?? '00000000-0000-0000-0000-000000000000', slug: leftover.tenantSlug ?? '?', name: leftover.tenantSlug ?? '?' }
    await driverForLeftover(leftover.what).retire(janua, tenant, leftover.placement)
  } catch (error) {
    const message = translateError(error, `removing ${leftover.what} ${describePlacement(leftover.placement)}`).message
    await janua.db.updateTable('janua.leftovers').set({ error: message }).where('id', '=', leftover.id).execute()
    return { ...leftover, error: message, removed: false }
  }
  await janua.db.deleteFrom('janua.leftovers').where('id', '=', leftover.id).execute()
  return { ...leftover, error: null, removed: true }
}

export interface CleanupReport {
  tenant: string
  removed: LeftoverOutcome[]
  remaining: LeftoverOutcome[]
}

/**
 * `janua tenant cleanup <slug>`: removes every recorded leftover of the tenant (also of a tenant
 * dropped since). Refused while the tenant is being moved: an unfinished move owns its target.
 */
export async function cleanupTenant(janua: Janua, slug: string, live: { status: string; placement: Placement } | null): Promise<CleanupReport> {
  if (live?.status === 'moving') {
    throw usageError(`tenant "${slug}" is being moved`, `finish or abort the move first: janua tenant migrate-isolation ${slug} --resume | --abort`)
  }
  const outcomes: LeftoverOutcome[] = []
  for (const leftover of await listLeftovers(janua, { slug })) outcomes.push(await removeLeftover(janua, leftover, live?.placement))
  return { tenant: slug, removed: outcomes.filter((o) => o.removed), remaining: outcomes.filter((o) => !o.removed) }
}
