import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { placementTables } from '../catalog/tables.js'
import { withClient } from '../db/connection.js'
import { translateError } from '../db/errors.js'
import { advisoryUnlock, tryAdvisoryLock } from '../db/locks.js'
import { ISOLATION_LEVELS, type IsolationLevel, type TenantStatus } from '../db/schema.js'
import { ident, validateServerName, validateSlug } from '../sql/ident.js'
import { readApplied, versionOf } from './apply.js'
import type { Janua } from './context.js'
import { ensureControlPlane, requireControlPlane } from './control-plane.js'
import { ExitCode, JanuaError, PLACEMENT_TAKEN, usageError } from './errors.js'
import { drivers, type TenantRef } from './isolation/index.js'
import { finishOperation, startOperation } from './journal.js'
import { type Placement } from './placement.js'
import { pickServer } from './servers.js'
import { databaseExists } from './isolation/database.js'
import { schemaExists } from './isolation/schema.js'

/** The tenant object of DESIGN.md, the same in every command's JSON. */
export interface Tenant {
  id: string
  slug: string
  name: string
  status: TenantStatus
  isolation: IsolationLevel
  placement: Placement
  version: number
}

export interface TenantInspection extends Tenant {
  pending: string[]
  tables: { name: string; rows: number }[]
  sizeBytes: number
  operations: { id: number; kind: string; status: string; step: string | null; error: string | null; startedAt: string; finishedAt: string | null; detail: unknown }[]
  /** the unfinished move of a tenant whose status is moving: its journaled step and target */
  move: { step: string | null; to: unknown; startedAt: string } | null
  /** the last `tenant migrate` result for the tenant's placement */
  lastMigration: { runId: string | null; status: string; applied: string[]; toVersion: number | null; error: string | null; at: string } | null
  domain: string | null
  plan: string | null
  createdAt: string
}

/** Whether a schema or database tenant's placement (the schema, or the database) already exists. */
export async function placementTaken(janua: Janua, placement: Placement, isolation: IsolationLevel): Promise<boolean> {
  if (isolation === 'database') return withClient(await janua.conn.adminPool(placement.server), (c) => databaseExists(c, placement.database))
  return withClient(await janua.conn.serverPool(placement.server, placement.database), (c) => schemaExists(c, placement.schema))
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
    .select(['t.id', 't.slug', 't.name', 't.status', 't.isolation', 'p.server', 'p.database', 'p.schema', 'p.version', 't.placement_id', 't.domain', 't.plan', 't.created_at'])
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
})

async function findTenantRow(janua: Janua, slug: string): Promise<TenantRow | undefined> {
  return tenantQuery(janua).where('t.slug', '=', slug).executeTakeFirst()
}

export async function getTenant(janua: Janua, slug: string): Promise<TenantRow> {
  validateSlug(slug)
  await requireControlPlane(janua)
  const row = await findTenantRow(janua, slug)
  if (!row) throw usageError(`no tenant "${slug}"`, 'list tenants with `janua tenant list`')
  return row
}

/**
 * Holds `janua:tenant:<slug>` for the duration of fn on a dedicated session, so that a killed
 * run's leftovers (status provisioning, nobody holding the lock) can be told from a live run.
 */
export async function withTenantLock<T>(janua: Janua, slug: string, fn: () => Promise<T>): Promise<T> {
  // A dedicated session: the lock must outlive no pool checkout, and must not starve the pool.
  const client = await janua.conn.dedicatedClient('primary', janua.conn.primaryDatabase)
  try {
    const key = `janua:tenant:${slug}`
    if (!(await tryAdvisoryLock(client, key))) {
      throw new JanuaError(`tenant "${slug}" is being changed by another janua run`, ExitCode.locked, 'wait for it to finish and run the command again')
    }
    try {
      return await fn()
    } finally {
      await advisoryUnlock(client, key).catch(() => {})
    }
  } finally {
    await client.end().catch(() => {})
  }
}

/** Removes what a killed create left: its schema or database, its rows, its control-plane rows. */
async function discardUnfinished(janua: Janua, row: TenantRow): Promise<void> {
  const tenant: TenantRef = { id: row.id, slug: row.slug, name: row.name }
  const placement: Placement = { server: row.server, database: row.database, schema: row.schema }
  await drivers[row.isolation].remove(janua, tenant, placement)
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
    if (row.isolation !== 'shared') {
      await trx.deleteFrom('janua.placements').where('id', '=', row.placement_id).where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('janua.tenants').select('id').whereRef('placement_id', '=', 'janua.placements.id')))).execute()
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
}

export async function createTenant(janua: Janua, input: CreateTenantInput): Promise<Tenant> {
  const slug = validateSlug(input.slug)
  const isolation = validateIsolation(input.isolation ?? 'shared')
  if (input.server !== undefined) validateServerName(input.server)
  const name = (input.name ?? slug).trim()
  if (name === '' || name.length > 200) throw usageError('invalid tenant name', 'pass --name with 1 to 200 characters')
  janua.templates // a broken template folder is a usage error before anything is created
  const cpId = await ensureControlPlane(janua, { create: true })
  const driver = drivers[isolation]
  const { server, policy } = input.server ? { server: input.server, policy: '--server' } : await pickServer(janua)
  await janua.conn.serverConfig(server) // unknown server: exit 2 before anything is created
  input.onPlaced?.(server, policy)

  return withTenantLock(janua, slug, async () => {
    const existing = await findTenantRow(janua, slug)
    if (existing?.status === 'provisioning') await discardUnfinished(janua, existing)
    else if (existing) throw usageError(`tenant "${slug}" already exists (${existing.isolation}, ${existing.status})`, 'choose another slug, or inspect it with `janua tenant inspect ' + slug + '`')

    const placement = await driver.placementFor(janua, cpId, slug, server)
    // A schema or database of that name that no tenant owns is someone's data: refuse, touch nothing.
    if (isolation !== 'shared' && (await placementTaken(janua, placement, isolation))) {
      throw usageError(`${isolation === 'schema' ? `schema ${placement.schema}` : `database ${placement.database}`} already exists on ${placement.server} but belongs to no tenant`,
        'inspect it and drop it if it is a leftover, or choose another slug')
    }
    const tenant: TenantRef = { id: randomUUID(), slug, name }
    // The rows come first, as 'provisioning': a killed run is then found and cleaned by the next one.
    const { placementId, operationId } = await janua.db.transaction().execute(async (trx) => {
      const p = await trx
        .insertInto('janua.placements')
        .values({ server: placement.server, database: placement.database, schema: placement.schema, kind: isolation })
        .onConflict((oc) => oc.columns(['server', 'database', 'schema']).doUpdateSet({ updated_at: sql`now()` }))
        .returning('id')
        .executeTakeFirstOrThrow()
      await trx
        .insertInto('janua.tenants')
        .values({
          id: tenant.id, slug, name, status: 'provisioning', isolation, placement_id: String(p.id),
          domain: input.domain ?? null, plan: input.plan ?? null, billing_email: input.billingEmail ?? null, updated_at: new Date(),
        })
        .execute()
      return { placementId: String(p.id), operationId: '' }
    }).then(async (r) => ({ ...r, operationId: await startOperation(janua, { kind: 'tenant.create', tenantId: tenant.id, tenantSlug: slug, placementId: r.placementId, step: 'provision', detail: { isolation, placement } }) }))

    try {
      const version = await driver.provision(janua, cpId, tenant, placement)
      // Active, and the journal entry closed, in one transaction: a kill leaves neither half.
      await janua.db.transaction().execute(async (trx) => {
        await trx.updateTable('janua.tenants').set({ status: 'active', updated_at: new Date() }).where('id', '=', tenant.id).execute()
        if (isolation !== 'shared') await trx.updateTable('janua.placements').set({ version, updated_at: new Date() }).where('id', '=', placementId).execute()
        await finishOperation(trx, operationId, 'succeeded', undefined, { isolation, placement, version })
      })
      return { id: tenant.id, slug, name, status: 'active', isolation, placement, version }
    } catch (error) {
      // Nothing half-made: undo the placement and the rows, keep the journal entry as failed.
      const failure = translateError(error)
      try {
        // The placement was found free above; one that appeared meanwhile is not ours to remove.
        if (failure.code !== PLACEMENT_TAKEN) await driver.remove(janua, tenant, placement)
        const row = await findTenantRow(janua, slug)
        if (row) await deleteTenantRows(janua, row)
        await finishOperation(janua, operationId, 'failed', failure)
      } catch {
        /* the next create of this slug finishes the cleanup */
      }
      throw failure
    }
  })
}

export async function listTenants(janua: Janua, filter: { isolation?: string; server?: string; status?: string } = {}): Promise<Tenant[]> {
  await requireControlPlane(janua)
  let query = tenantQuery(janua).orderBy('t.slug')
  if (filter.isolation) query = query.where('t.isolation', '=', validateIsolation(filter.isolation))
  if (filter.server) query = query.where('p.server', '=', validateServerName(filter.server))
  if (filter.status) query = query.where('t.status', '=', filter.status as TenantStatus)
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
        row.isolation === 'shared'
          ? `select count(*)::bigint as n, sum(pg_column_size(x.*))::bigint as bytes from ${q} x where tenant_id = $1`
          : `select count(*)::bigint as n, pg_total_relation_size($2::regclass)::bigint as bytes from ${q} x where tenant_id = $1 or $1 is null`,
        row.isolation === 'shared' ? [row.id] : [row.id, q],
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
  const move = row.status === 'moving'
    ? await janua.db.selectFrom('janua.operations').select(['step', 'detail', 'started_at']).where('tenant_id', '=', row.id).where('kind', '=', 'tenant.move').where('status', '=', 'running').orderBy('id', 'desc').executeTakeFirst()
    : undefined
  return {
    ...tenant,
    move: move ? { step: move.step, to: (move.detail as { plan?: { to?: unknown } }).plan?.to ?? null, startedAt: new Date(move.started_at).toISOString() } : null,
    version: facts.version,
    pending: facts.pending,
    tables: facts.tables,
    sizeBytes: facts.sizeBytes,
    operations: operations.map((o) => ({
      id: Number(o.id), kind: o.kind, status: o.status, step: o.step, error: o.error,
      startedAt: new Date(o.started_at).toISOString(), finishedAt: o.finished_at ? new Date(o.finished_at).toISOString() : null, detail: o.detail,
    })),
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

export async function dropTenant(janua: Janua, slug: string, options: { confirmed: boolean }): Promise<Tenant & { dropped: true }> {
  const row = await getTenant(janua, slug)
  if (!options.confirmed) throw usageError(`dropping tenant "${slug}" deletes its data`, 'pass --yes to confirm (on a terminal, janua asks you to type the slug)')
  if (row.status === 'moving') throw usageError(`tenant "${slug}" is being moved`, `finish or abort the move first: janua tenant migrate-isolation ${slug} --resume | --abort`)
  return withTenantLock(janua, slug, async () => {
    const tenant: TenantRef = { id: row.id, slug: row.slug, name: row.name }
    const operationId = await startOperation(janua, { kind: 'tenant.drop', tenantId: row.id, tenantSlug: slug, placementId: String(row.placement_id), step: 'remove' })
    try {
      await janua.db.updateTable('janua.tenants').set({ status: 'dropping', updated_at: new Date() }).where('id', '=', row.id).execute()
      await drivers[row.isolation].remove(janua, tenant, { server: row.server, database: row.database, schema: row.schema })
      await deleteTenantRows(janua, row)
      await finishOperation(janua, operationId, 'succeeded')
    } catch (error) {
      await finishOperation(janua, operationId, 'failed', error).catch(() => {})
      throw translateError(error, `dropping ${slug}`)
    }
    return { ...toTenant(row), dropped: true as const }
  })
}
