import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { placementTables } from '../catalog/tables.js'
import { withClient } from '../db/connection.js'
import { translateError } from '../db/errors.js'
import { ISOLATION_LEVELS, type CommercialStatus, type IsolationLevel, type Suspension, type TenantStatus } from '../db/schema.js'
import { ident, validateServerName, validateSlug } from '../sql/ident.js'
import { readApplied, versionOf } from './apply.js'
import type { Janua } from './context.js'
import { ensureControlPlane, requireControlPlane } from './control-plane.js'
import { ExitCode, JanuaError, NOT_FOUND, PLACEMENT_TAKEN, usageError } from './errors.js'
import { driverFor, locateContext, type TenantRef } from './isolation/index.js'
import { finishOperation, startOperation } from './journal.js'
import { cleanupTenant, listLeftovers, removeLeftover, type CleanupReport, type Leftover, type LeftoverOutcome } from './leftovers.js'
import { describePlacement, type Placement } from './placement.js'
import { removeTombstone } from './tombstone.js'
import { pickServer } from './servers.js'
import { requireKnownServer } from './known-server.js'
import { validateTenantFields } from './validate.js'
import { withTenantLock } from './tenant-lock.js'
import { faultPoint } from './fault.js'
import { ensureDomainFree, validateDomain } from './directory.js'
import { applySuspension } from './suspension.js'
import { masterKeyForCreate, wrapNewKey } from './tenant-keys.js'
import { dropTenantAccess } from './tenant-access.js'

export { withTenantLock } from './tenant-lock.js'

/** The tenant object of DESIGN.md, the same in every command's JSON. */
export interface Tenant {
  id: string
  slug: string
  name: string
  status: TenantStatus
  isolation: IsolationLevel
  placement: Placement
  version: number
  /** the commercial record (tenant update / suspend / resume) */
  commercialStatus?: CommercialStatus
  plan?: string | null
  limits?: Record<string, unknown>
  suspension?: Suspension | null
}

export interface TenantInspection extends Tenant {
  pending: string[]
  tables: { name: string; rows: number }[]
  sizeBytes: number
  operations: { id: number; kind: string; status: string; step: string | null; error: string | null; startedAt: string; finishedAt: string | null; detail: unknown }[]
  /** the last finished move: how long the tenant's writes were fenced, and how its writes were captured */
  lastMove: { at: string; status: string; capture: string; fencedMs: number | null; to: unknown } | null
  /** the unfinished move of a tenant whose status is moving: its journaled step and target */
  move: { step: string | null; to: unknown; startedAt: string } | null
  /** what an aborted move left or --keep-source kept, until `janua tenant cleanup` removes it */
  leftovers: Leftover[]
  /** the last `tenant migrate` result for the tenant's placement */
  lastMigration: { runId: string | null; status: string; applied: string[]; toVersion: number | null; error: string | null; at: string } | null
  domain: string | null
  plan: string | null
  createdAt: string
}

/** Whether a placement of its own (a schema, a database) already exists there: someone's data janua must not touch. */
export async function placementTaken(janua: Janua, placement: Placement, isolation: IsolationLevel): Promise<boolean> {
  const driver = driverFor(isolation)
  return !driver.sharesPlacement && (await driver.exists(janua, placement))
}

export function validateIsolation(level: string | undefined): IsolationLevel {
  if (!level || !(ISOLATION_LEVELS as readonly string[]).includes(level)) {
    throw usageError(`invalid isolation level ${JSON.stringify(level ?? '')}`, 'use --isolation shared, schema or database')
  }
  return level as IsolationLevel
}

function tenantQuery(janua: Janua) {
  return janua.db
    .selectFrom('janua.tenants as t')
    .innerJoin('janua.placements as p', 'p.id', 't.placement_id')
    .select([
      't.id',
      't.slug',
      't.name',
      't.status',
      't.isolation',
      'p.server',
      'p.database',
      'p.schema',
      'p.version',
      't.placement_id',
      't.domain',
      't.plan',
      't.created_at',
      't.commercial_status',
      't.limits',
      't.suspension',
    ])
}
type TenantRow = Awaited<ReturnType<ReturnType<typeof tenantQuery>['executeTakeFirstOrThrow']>>

const toTenant = (row: TenantRow): Tenant => ({
  id: row.id,
  slug: row.slug,
  name: row.name,
  status: row.status,
  isolation: row.isolation,
  placement: { server: row.server, database: row.database, schema: row.schema },
  version: row.version,
  commercialStatus: row.commercial_status,
  plan: row.plan,
  limits: row.limits ?? {},
  suspension: row.suspension ?? null,
})

async function findTenantRow(janua: Janua, slug: string): Promise<TenantRow | undefined> {
  return tenantQuery(janua).where('t.slug', '=', slug).executeTakeFirst()
}

export async function getTenant(janua: Janua, slug: string): Promise<TenantRow> {
  validateSlug(slug)
  await requireControlPlane(janua)
  const row = await findTenantRow(janua, slug)
  if (!row) throw new JanuaError(`no tenant "${slug}"`, ExitCode.usage, 'list tenants with `janua tenant list`', NOT_FOUND)
  return row
}

/** Removes what a killed create left: its schema or database, its rows, its control-plane rows. */
async function discardUnfinished(janua: Janua, row: TenantRow): Promise<void> {
  const tenant: TenantRef = { id: row.id, slug: row.slug, name: row.name }
  const placement: Placement = { server: row.server, database: row.database, schema: row.schema }
  await driverFor(row.isolation).retire(janua, tenant, placement)
  await deleteTenantRows(janua, row)
  await janua.db
    .updateTable('janua.operations')
    .set({ status: 'aborted', finished_at: new Date(), error: 'the run was interrupted; its leftovers were removed by a later run' })
    .where('tenant_id', '=', row.id)
    .where('status', '=', 'running')
    .execute()
}

async function deleteTenantRows(janua: Janua, row: TenantRow): Promise<void> {
  await janua.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('janua.tenants').where('id', '=', row.id).execute()
    if (!driverFor(row.isolation).sharesPlacement) {
      await trx
        .deleteFrom('janua.placements')
        .where('id', '=', row.placement_id)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('janua.tenants').select('id').whereRef('placement_id', '=', 'janua.placements.id'))))
        .execute()
    }
  })
}

export interface CreateTenantInput {
  slug: string
  name?: string
  isolation?: string
  server?: string
  domain?: string
  plan?: string
  billingEmail?: string
  /** told which server the placement policy chose, and why */
  onPlaced?: (server: string, policy: string) => void
  /** the tenant id to keep (an import); a new one when absent */
  id?: string
  /** the template version to build a placement of its own to (an import: the archive's); the newest when absent */
  toVersion?: number
  /** fills the built placement instead of the seed files (an import), before the tenant is activated; a failure undoes the create */
  populate?: (target: { tenant: TenantRef; placement: Placement; isolation: IsolationLevel; version: number }) => Promise<void>
}

export async function createTenant(janua: Janua, input: CreateTenantInput): Promise<Tenant> {
  const slug = validateSlug(input.slug)
  const isolation = validateIsolation(input.isolation ?? 'shared')
  if (input.server !== undefined) validateServerName(input.server)
  const { name } = validateTenantFields({ ...input, slug })
  if (name === '' || name.length > 200) throw usageError('invalid tenant name', 'pass --name with 1 to 200 characters')
  janua.templates // a broken template folder is a usage error before anything is created
  await ensureControlPlane(janua, { create: true })
  const domain = input.domain === undefined ? null : validateDomain(input.domain)
  if (domain !== null) await ensureDomainFree(janua, domain)
  // With a master key set (and only then) the tenant gets its data key; a wrong key refuses before anything is created.
  const masterKey = await masterKeyForCreate(janua)
  const driver = driverFor(isolation)
  const { server, policy } = input.server ? { server: input.server, policy: '--server' } : await pickServer(janua)
  await janua.conn.serverConfig(server) // unknown server: exit 2 before anything is created

  return withTenantLock(janua, slug, async () => {
    const existing = await findTenantRow(janua, slug)
    if (existing?.status === 'provisioning') await discardUnfinished(janua, existing)
    else if (existing)
      throw usageError(`tenant "${slug}" already exists (${existing.isolation}, ${existing.status})`, 'choose another slug, or inspect it with `janua tenant inspect ' + slug + '`')

    const placement = driver.locate(locateContext(janua), slug, server)
    // A schema or database of that name that no tenant owns is someone's data: refuse, touch nothing.
    if (await placementTaken(janua, placement, isolation)) {
      throw new JanuaError(
        `${describePlacement(placement)} already exists but belongs to no tenant`,
        ExitCode.usage,
        'inspect it and drop it if it is a leftover, or choose another slug',
        PLACEMENT_TAKEN,
      )
    }
    // Said once the tenant will be made: a refused create prints only its error.
    input.onPlaced?.(server, policy)
    const tenant: TenantRef = { id: input.id ?? randomUUID(), slug, name }
    // The rows come first, as 'provisioning': a killed run is then found and cleaned by the next one.
    const { placementId, operationId } = await janua.db
      .transaction()
      .execute(async (trx) => {
        const p = await trx
          .insertInto('janua.placements')
          .values({ server: placement.server, database: placement.database, schema: placement.schema, kind: isolation })
          .onConflict((oc) => oc.columns(['server', 'database', 'schema']).doUpdateSet({ updated_at: sql`now()` }))
          .returning('id')
          .executeTakeFirstOrThrow()
        await trx
          .insertInto('janua.tenants')
          .values({
            id: tenant.id,
            slug,
            name,
            status: 'provisioning',
            isolation,
            placement_id: String(p.id),
            domain,
            plan: input.plan ?? null,
            billing_email: input.billingEmail ?? null,
            updated_at: new Date(),
          })
          .execute()
        return { placementId: String(p.id), operationId: '' }
      })
      .then(async (r) => ({
        ...r,
        operationId: await startOperation(janua, {
          kind: 'tenant.create',
          tenantId: tenant.id,
          tenantSlug: slug,
          placementId: r.placementId,
          step: 'provision',
          detail: { isolation, placement },
        }),
      }))

    faultPoint('recorded')
    try {
      const version = await driver.build(janua, placement, input.populate ? { toVersion: input.toVersion } : { seed: tenant })
      if (input.populate) await input.populate({ tenant, placement, isolation, version })
      // Active, and the journal entry closed, in one transaction: a kill leaves neither half.
      await janua.db.transaction().execute(async (trx) => {
        await trx.updateTable('janua.tenants').set({ status: 'active', updated_at: new Date() }).where('id', '=', tenant.id).execute()
        if (masterKey) await sql`insert into janua.tenant_keys (tenant_id, version, wrapped) values (${tenant.id}, 1, ${wrapNewKey(masterKey, tenant.id, 1)})`.execute(trx)
        if (!driver.sharesPlacement) await trx.updateTable('janua.placements').set({ version, updated_at: new Date() }).where('id', '=', placementId).execute()
        await finishOperation(trx, operationId, 'succeeded', undefined, { isolation, placement, version })
      })
      faultPoint('activated')
      return { id: tenant.id, slug, name, status: 'active', isolation, placement, version }
    } catch (error) {
      // Nothing half-made: undo the placement and the rows, keep the journal entry as failed.
      const failure = translateError(error)
      try {
        // The placement was found free above; one that appeared meanwhile is not ours to remove.
        if (failure.code !== PLACEMENT_TAKEN) await driver.retire(janua, tenant, placement)
        const row = await findTenantRow(janua, slug)
        if (row) await deleteTenantRows(janua, row)
        await finishOperation(janua, operationId, 'failed', failure)
      } catch (undoError) {
        // The tenant stays 'provisioning': the next create of this slug removes what is left.
        throw new JanuaError(
          `${failure.message}; removing what the create made also failed: ${translateError(undoError).message}`,
          failure.exitCode,
          `run \`janua tenant create ${slug}\` again once the cause is fixed: it removes the leftovers of this run first`,
          failure.code,
          failure.details,
        )
      }
      throw failure
    }
  })
}

export async function listTenants(
  janua: Janua,
  filter: { isolation?: string; server?: string; status?: string; commercialStatus?: string; plan?: string } = {},
): Promise<Tenant[]> {
  await requireControlPlane(janua)
  let query = tenantQuery(janua).orderBy('t.slug')
  if (filter.isolation) query = query.where('t.isolation', '=', validateIsolation(filter.isolation))
  if (filter.server) query = query.where('p.server', '=', await requireKnownServer(janua, filter.server))
  if (filter.status) query = query.where('t.status', '=', filter.status as TenantStatus)
  if (filter.commercialStatus) query = query.where('t.commercial_status', '=', filter.commercialStatus as CommercialStatus)
  if (filter.plan) query = query.where('t.plan', '=', filter.plan)
  return (await query.execute()).map(toTenant)
}

export async function inspectTenant(janua: Janua, slug: string): Promise<TenantInspection> {
  const row = await getTenant(janua, slug)
  const tenant = toTenant(row)
  const set = janua.templates
  const pool = await janua.conn.serverPool(row.server, row.database)
  const facts = await withClient(pool, async (client) => {
    const applied = await readApplied(client, row.schema)
    const version = versionOf(applied)
    const done = new Set(applied.map((a) => a.file))
    const pending = set.files.filter((f) => !done.has(f.name)).map((f) => f.name)
    const tables: { name: string; rows: number }[] = []
    let sizeBytes = 0
    for (const table of (await placementTables(client, row.schema)).filter((t) => t.hasTenantId)) {
      const q = `${ident(row.schema)}.${ident(table.name)}`
      // Shared placements hold other tenants' rows: count and size only this tenant's.
      const { rows } = await client.query<{ n: number; bytes: number | null }>(
        driverFor(row.isolation).sharesPlacement
          ? `select count(*)::bigint as n, sum(pg_column_size(x.*))::bigint as bytes from ${q} x where tenant_id = $1`
          : `select count(*)::bigint as n, pg_total_relation_size($2::regclass)::bigint as bytes from ${q} x where tenant_id = $1 or $1 is null`,
        driverFor(row.isolation).sharesPlacement ? [row.id] : [row.id, q],
      )
      tables.push({ name: table.name, rows: Number(rows[0]!.n) })
      sizeBytes += Number(rows[0]!.bytes ?? 0)
    }
    tables.sort((a, b) => a.name.localeCompare(b.name))
    return { version, pending, tables, sizeBytes }
  }).catch((error) => {
    throw translateError(error, `reading tenant ${slug} at ${row.server}/${row.database}/${row.schema}`)
  })
  const operations = await janua.db
    .selectFrom('janua.operations')
    .selectAll()
    // Fleet migrations are journaled per placement: a shared tenant sees its placement's results.
    .where((eb) => eb.or([eb('tenant_id', '=', row.id), eb.and([eb('placement_id', '=', row.placement_id), eb('kind', '=', 'migrate.placement')])]))
    .orderBy('started_at', 'desc')
    .orderBy('id', 'desc')
    .limit(10)
    .execute()
  const move =
    row.status === 'moving'
      ? await janua.db
          .selectFrom('janua.operations')
          .select(['step', 'detail', 'started_at'])
          .where('tenant_id', '=', row.id)
          .where('kind', '=', 'tenant.move')
          .where('status', '=', 'running')
          .orderBy('id', 'desc')
          .executeTakeFirst()
      : undefined
  return {
    ...tenant,
    move: move ? { step: move.step, to: (move.detail as { plan?: { to?: unknown } }).plan?.to ?? null, startedAt: new Date(move.started_at).toISOString() } : null,
    version: facts.version,
    pending: facts.pending,
    tables: facts.tables,
    sizeBytes: facts.sizeBytes,
    operations: operations.map((o) => ({
      id: Number(o.id),
      kind: o.kind,
      status: o.status,
      step: o.step,
      error: o.error,
      startedAt: new Date(o.started_at).toISOString(),
      finishedAt: o.finished_at ? new Date(o.finished_at).toISOString() : null,
      detail: o.detail,
    })),
    leftovers: await listLeftovers(janua, { tenantId: row.id }),
    lastMove: (() => {
      const last = operations.find((o) => o.kind === 'tenant.move' && o.status !== 'running')
      if (!last) return null
      const d = last.detail as { fenceRequestedAt?: number; switchedAt?: number; plan?: { capture?: { mode?: string }; to?: unknown } }
      return {
        at: new Date(last.started_at).toISOString(),
        status: last.status,
        capture: d.plan?.capture?.mode ?? 'none',
        fencedMs: d.fenceRequestedAt && d.switchedAt ? d.switchedAt - d.fenceRequestedAt : null,
        to: d.plan?.to ?? null,
      }
    })(),
    lastMigration: (() => {
      const last = operations.find((o) => o.kind === 'migrate.placement')
      if (!last) return null
      const d = last.detail as { applied?: string[]; toVersion?: number }
      return { runId: last.run_id, status: last.status, applied: d.applied ?? [], toVersion: d.toVersion ?? null, error: last.error, at: new Date(last.started_at).toISOString() }
    })(),
    domain: row.domain,
    plan: row.plan,
    createdAt: new Date(row.created_at).toISOString(),
  }
}

export interface DropResult extends Tenant {
  dropped: true
  /** kept sources and aborted-move leftovers of the tenant: removed first; those that could not be are listed (with their error) */
  leftovers: LeftoverOutcome[]
  /** what could not be tidied (a moved-away tombstone on a server that is down): harmless, said anyway */
  warnings: string[]
}

/** A dropped tenant's tombstones in the shared placements it once left go; a server that is down is said, not fatal (a tombstone of a tenant that no longer exists refuses nothing anyone writes). */
async function removeTombstones(janua: Janua, tenantId: string): Promise<string[]> {
  const warnings: string[] = []
  for (const p of await janua.db.selectFrom('janua.placements').selectAll().execute()) {
    const driver = driverFor(p.kind)
    if (!driver.sharesPlacement) continue
    const placement = { server: p.server, database: p.database, schema: p.schema }
    try {
      await driver.connect(janua, placement, (c) => removeTombstone(c, tenantId))
    } catch (error) {
      warnings.push(`the moved-away marker of the tenant in ${describePlacement(placement)} was not removed: ${translateError(error).message}`)
    }
  }
  return warnings
}

/**
 * A failure's journal entry is closed as failed; if even that write fails, the message says so
 * (with what repairs it) rather than losing either error.
 */
export async function failOperation(janua: Janua, operationId: string, failure: JanuaError): Promise<JanuaError> {
  try {
    await finishOperation(janua, operationId, 'failed', failure)
    return failure
  } catch (error) {
    return new JanuaError(
      `${failure.message} (and the journal entry ${operationId} could not be closed: ${translateError(error).message})`,
      failure.exitCode,
      failure.hint ?? 'run the command again once the control plane is reachable',
      failure.code,
      failure.details,
    )
  }
}

export async function dropTenant(janua: Janua, slug: string, options: { confirmed: boolean }): Promise<DropResult> {
  const row = await getTenant(janua, slug)
  if (!options.confirmed) throw usageError(`dropping tenant "${slug}" deletes its data`, 'pass --yes (on a terminal, janua asks you to type the slug)')
  if (row.status === 'moving') throw usageError(`tenant "${slug}" is being moved`, `finish or abort the move first: janua tenant migrate-isolation ${slug} --resume | --abort`)
  return withTenantLock(janua, slug, async () => {
    const tenant: TenantRef = { id: row.id, slug: row.slug, name: row.name }
    const placement: Placement = { server: row.server, database: row.database, schema: row.schema }
    const operationId = await startOperation(janua, { kind: 'tenant.drop', tenantId: row.id, tenantSlug: slug, placementId: String(row.placement_id), step: 'remove' })
    try {
      await janua.db.updateTable('janua.tenants').set({ status: 'dropping', updated_at: new Date() }).where('id', '=', row.id).execute()
      // Kept sources and aborted-move targets are the tenant's data too: they go first.
      const leftovers: LeftoverOutcome[] = []
      for (const leftover of await listLeftovers(janua, { tenantId: row.id })) leftovers.push(await removeLeftover(janua, leftover, placement))
      const driver = driverFor(row.isolation)
      // In a shared placement a suspension's triggers, no-read policies and list entry outlive the
      // tenant's rows: lifted first (also when a killed suspend left them unrecorded).
      if (driver.sharesPlacement) await applySuspension(janua, { driver, placement, tenant }, null)
      await driver.retire(janua, tenant, placement)
      await dropTenantAccess(janua, tenant, placement)
      const warnings = await removeTombstones(janua, row.id)
      await deleteTenantRows(janua, row)
      const remaining = leftovers.filter((l) => !l.removed)
      await finishOperation(janua, operationId, 'succeeded', undefined, {
        placement,
        leftoversNotRemoved: remaining.map((l) => ({ placement: l.placement, what: l.what, error: l.error })),
      })
      return { ...toTenant(row), dropped: true as const, leftovers: remaining, warnings }
    } catch (error) {
      throw await failOperation(janua, operationId, translateError(error, `dropping ${slug}`))
    }
  })
}

/**
 * `janua tenant cleanup <slug>`: removes what an aborted move left at its target and sources kept
 * by --keep-source (recorded leftovers only), under the tenant's lock. Works for a tenant dropped
 * since. Anything still not removable (server down) is a failure naming it, with the re-run hint.
 */
export async function cleanupLeftovers(janua: Janua, slug: string): Promise<CleanupReport> {
  validateSlug(slug)
  await ensureControlPlane(janua)
  return withTenantLock(janua, slug, async () => {
    const row = await findTenantRow(janua, slug)
    const result = await cleanupTenant(janua, slug, row ? { status: row.status, placement: { server: row.server, database: row.database, schema: row.schema } } : null)
    if (result.remaining.length) {
      const first = result.remaining[0]!
      throw new JanuaError(
        `${result.remaining.length} leftover(s) of ${slug} could not be removed: ${result.remaining.map((l) => `${l.what} ${describePlacement(l.placement)} (${l.error})`).join('; ')}`,
        ExitCode.failed,
        `once ${first.placement.server} is reachable, run again: janua tenant cleanup ${slug}`,
        'cleanup_incomplete',
        { removed: result.removed, remaining: result.remaining },
      )
    }
    return result
  })
}
