import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { initDb } from '../../src/core/control-plane.js'
import { recordAudit } from '../../src/core/journal.js'
import { createTenant, dropTenant, inspectTenant, listTenants, type Tenant } from '../../src/core/tenants.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { adminClient, asApp, controlPlaneId, quoteIdent, tablesOf } from '../helpers/foundation.js'

const LEVELS = ['shared', 'schema', 'database'] as const

let db: TestDatabase
let janua: Janua
let primary: pg.Client
let sharedTables: string[]
let cpId: string

beforeAll(async () => {
  db = await freshDatabase('iso')
  janua = await Janua.open({ databaseUrl: db.url })
  await initDb(janua)
  primary = await adminClient(db)
  sharedTables = await tablesOf(primary, 'janua_shared')
  cpId = (await controlPlaneId(db))!
})

afterAll(async () => {
  await primary?.end()
  await janua?.close()
  await db?.drop()
})

/** Runs fn with a client on the tenant's placement database (the primary, or the tenant's own). */
async function onPlacement<T>(t: Tenant, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  if (t.placement.database === db.name) return fn(primary)
  const client = await adminClient(db, t.placement.database)
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

it('the shared placement holds every template table and the template history', () => {
  for (const table of ['users', 'sessions', 'teams', 'roles', 'billing_plans', 'payment_intents', 'audit_logs', 'analytics_events', 'janua_template_history']) {
    expect(sharedTables).toContain(table)
  }
  expect(sharedTables.length).toBeGreaterThanOrEqual(20)
})

describe.each(LEVELS)('a %s tenant', (isolation) => {
  const slug = `iso-${isolation}`
  let tenant: Tenant

  it('is created active at the newest template version', async () => {
    tenant = await createTenant(janua, { slug, name: `Iso ${isolation}`, isolation })
    expect(tenant).toMatchObject({ slug, name: `Iso ${isolation}`, status: 'active', isolation, version: 4 })
    expect(Object.keys(tenant).sort()).toEqual(['id', 'isolation', 'name', 'placement', 'slug', 'status', 'version'])
    expect(Object.keys(tenant.placement).sort()).toEqual(['database', 'schema', 'server'])
    expect(tenant.placement.server).toBe('primary')
    if (isolation === 'shared') expect(tenant.placement).toEqual({ server: 'primary', database: db.name, schema: 'janua_shared' })
    if (isolation === 'schema') expect(tenant.placement).toEqual({ server: 'primary', database: db.name, schema: `tenant_${slug}` })
    if (isolation === 'database') expect(tenant.placement).toEqual({ server: 'primary', database: `janua_${cpId}_${slug}`, schema: 'tenant' })
    expect(Buffer.byteLength(tenant.placement.database)).toBeLessThanOrEqual(63)
    expect(Buffer.byteLength(tenant.placement.schema)).toBeLessThanOrEqual(63)

    const listed = (await listTenants(janua)).find((t) => t.slug === slug)
    // the listing adds the commercial record (tenant update / suspend)
    expect(listed).toEqual({ ...tenant, commercialStatus: 'active', plan: null, limits: {}, suspension: null })
    expect((await listTenants(janua, { isolation })).map((t) => t.slug)).toEqual([slug])
  })

  it('has a placement with exactly the tables of the shared placement', async () => {
    const tables = await onPlacement(tenant, (c) => tablesOf(c, tenant.placement.schema))
    expect(tables).toEqual(sharedTables)
    const history = await onPlacement(tenant, (c) =>
      c.query<{ version: number; file: string }>(`select version, file from ${quoteIdent(tenant.placement.schema)}.janua_template_history order by version`),
    )
    expect(history.rows.map((r) => r.file)).toEqual(['0001_identity.sql', '0002_teams_rbac.sql', '0003_billing.sql', '0004_audit_integrations.sql'])
  })

  it('got the seed roles (owner, admin, member, viewer)', async () => {
    const { rows } = await onPlacement(tenant, (c) =>
      c.query<{ name: string }>(`select name from ${quoteIdent(tenant.placement.schema)}.roles where tenant_id = $1 order by name`, [tenant.id]),
    )
    expect(rows.map((r) => r.name)).toEqual(['admin', 'member', 'owner', 'viewer'])
  })

  it('inspects as version 4, nothing pending, 4 roles', async () => {
    const inspection = await inspectTenant(janua, slug)
    expect(inspection).toMatchObject({ id: tenant.id, slug, status: 'active', isolation, placement: tenant.placement, version: 4, pending: [] })
    expect(inspection.tables.find((t) => t.name === 'roles')).toEqual({ name: 'roles', rows: 4 })
    expect(inspection.tables.find((t) => t.name === 'users')).toEqual({ name: 'users', rows: 0 })
    // Reference data (no tenant_id) is not a tenant table.
    expect(inspection.tables.map((t) => t.name)).not.toContain('billing_plans')
    expect(typeof inspection.sizeBytes).toBe('number')
    expect(inspection.sizeBytes).toBeGreaterThan(0)
    expect(inspection.operations.map((o) => [o.kind, o.status])).toContainEqual(['tenant.create', 'succeeded'])
  })

  it('is not reachable by PUBLIC, and usable by janua_app', async () => {
    const schema = tenant.placement.schema
    const privileges = await onPlacement(tenant, async (c) => {
      const { rows } = await c.query<{ pub_usage: boolean; pub_create: boolean; app_usage: boolean; app_select: boolean; pub_select: boolean }>(
        `select has_schema_privilege('public', $1, 'USAGE') as pub_usage,
                has_schema_privilege('public', $1, 'CREATE') as pub_create,
                has_schema_privilege('janua_app', $1, 'USAGE') as app_usage,
                has_table_privilege('janua_app', $2, 'SELECT') as app_select,
                has_table_privilege('public', $2, 'SELECT') as pub_select`,
        [schema, `${quoteIdent(schema)}.users`],
      )
      return rows[0]!
    })
    expect(privileges).toEqual({ pub_usage: false, pub_create: false, app_usage: true, app_select: true, pub_select: false })

    if (isolation === 'database') {
      const { rows } = await primary.query<{ pub: boolean; app: boolean }>(
        `select has_database_privilege('public', $1, 'CONNECT') as pub, has_database_privilege('janua_app', $1, 'CONNECT') as app`,
        [tenant.placement.database],
      )
      expect(rows[0]).toEqual({ pub: false, app: true })
      // The database's public schema is not writable by anyone but its owner either.
      const pub = await onPlacement(tenant, (c) => c.query<{ ok: boolean }>(`select has_schema_privilege('janua_app', 'public', 'CREATE') as ok`))
      expect(pub.rows[0]!.ok).toBe(false)
    }

    // As the app role with the tenant set: sees its roles, can write its own rows.
    await onPlacement(tenant, (c) =>
      asApp(c, schema, tenant.id, async () => {
        expect((await c.query('select name from roles')).rows).toHaveLength(4)
        await c.query(`insert into users (tenant_id, email) values ($1, 'app-check@example.test')`, [tenant.id])
        expect((await c.query('select email from users')).rows).toEqual([{ email: 'app-check@example.test' }])
      }),
    )
    // ... and with no tenant set, nothing.
    await onPlacement(tenant, (c) =>
      asApp(c, schema, null, async () => {
        expect((await c.query('select 1 from roles')).rows).toHaveLength(0)
        expect((await c.query('select 1 from users')).rows).toHaveLength(0)
      }),
    )
  })

  it('is dropped with its placement and control-plane rows; the journal and audit log are kept', async () => {
    await recordAudit(janua, { command: `test marker for ${slug}`, args: [slug], exitCode: 0, durationMs: 1 })
    const auditBefore = Number((await primary.query(`select count(*) from janua.audit_log`)).rows[0].count)

    const dropped = await dropTenant(janua, slug, { confirmed: true })
    expect(dropped).toMatchObject({ id: tenant.id, slug, dropped: true })

    if (isolation === 'shared') {
      for (const table of ['roles', 'users']) {
        const { rows } = await primary.query(`select count(*)::int as n from janua_shared.${table} where tenant_id = $1`, [tenant.id])
        expect(rows[0].n, table).toBe(0)
      }
      // The shared placement itself stays.
      expect(await tablesOf(primary, 'janua_shared')).toEqual(sharedTables)
      expect((await primary.query(`select 1 from janua.placements where kind = 'shared'`)).rowCount).toBe(1)
    }
    if (isolation === 'schema') {
      expect((await primary.query('select 1 from pg_namespace where nspname = $1', [tenant.placement.schema])).rowCount).toBe(0)
    }
    if (isolation === 'database') {
      expect((await primary.query('select 1 from pg_database where datname = $1', [tenant.placement.database])).rowCount).toBe(0)
    }
    if (isolation !== 'shared') {
      expect((await primary.query('select 1 from janua.placements where schema = $1 and database = $2', [tenant.placement.schema, tenant.placement.database])).rowCount).toBe(0)
    }
    expect((await primary.query('select 1 from janua.tenants where id = $1 or slug = $2', [tenant.id, slug])).rowCount).toBe(0)
    expect((await listTenants(janua)).map((t) => t.slug)).not.toContain(slug)
    await expect(inspectTenant(janua, slug)).rejects.toMatchObject({ exitCode: 2 })

    const ops = await primary.query<{ kind: string; status: string }>(`select kind, status from janua.operations where tenant_id = $1 order by id`, [tenant.id])
    expect(ops.rows).toEqual([
      { kind: 'tenant.create', status: 'succeeded' },
      { kind: 'tenant.drop', status: 'succeeded' },
    ])
    const auditAfter = Number((await primary.query(`select count(*) from janua.audit_log`)).rows[0].count)
    expect(auditAfter).toBe(auditBefore)
    expect((await primary.query(`select 1 from janua.audit_log where command = $1`, [`test marker for ${slug}`])).rowCount).toBe(1)
  })

  it('can be created again after the drop', async () => {
    const again = await createTenant(janua, { slug, isolation })
    expect(again).toMatchObject({ slug, status: 'active', isolation, version: 4 })
    expect(again.id).not.toBe(tenant.id)
  })
})

describe('concurrent creates', () => {
  it('two database tenants created at once both succeed (the template database is shared safely)', async () => {
    const second = await Janua.open({ databaseUrl: db.url })
    try {
      const [x, y] = await Promise.all([createTenant(janua, { slug: 'conc-x', isolation: 'database' }), createTenant(second, { slug: 'conc-y', isolation: 'database' })])
      expect([x.status, x.version, y.status, y.version]).toEqual(['active', 4, 'active', 4])
    } finally {
      await second.close()
    }
  })

  it('the same slug created twice at once: one wins, the other exits 4 or 2, and one tenant exists', async () => {
    const second = await Janua.open({ databaseUrl: db.url })
    try {
      const results = await Promise.allSettled([
        createTenant(janua, { slug: 'conc-same', isolation: 'schema' }),
        createTenant(second, { slug: 'conc-same', isolation: 'database' }),
      ])
      const ok = results.filter((r) => r.status === 'fulfilled')
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      expect(ok).toHaveLength(1)
      expect(failed).toHaveLength(1)
      expect([2, 4]).toContain((failed[0]!.reason as { exitCode?: number }).exitCode)
      const rows = await primary.query(`select status from janua.tenants where slug = 'conc-same'`)
      expect(rows.rows).toEqual([{ status: 'active' }])
      const winner = (ok[0] as PromiseFulfilledResult<Tenant>).value
      // The loser left no placement behind.
      if (winner.isolation === 'schema') expect((await primary.query(`select 1 from pg_database where datname = $1`, [`janua_${cpId}_conc-same`])).rowCount).toBe(0)
      else expect((await primary.query(`select 1 from pg_namespace where nspname = 'tenant_conc-same'`)).rowCount).toBe(0)
    } finally {
      await second.close()
    }
  })
})
