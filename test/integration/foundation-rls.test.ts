import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { createTenant, dropTenant, inspectTenant, type Tenant } from '../../src/core/tenants.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { adminClient, asApp, insertSampleRows, quoteIdent, tenantTablesOf } from '../helpers/foundation.js'

const SHARED = 'janua_shared'

/**
 * The proof that RLS separates tenants of the shared placement, as the application sees it:
 * connected as a superuser, then SET ROLE janua_app inside each transaction.
 */
describe('Row-Level Security in the shared placement, as janua_app', () => {
  let db: TestDatabase
  let janua: Janua
  let client: pg.Client
  let a: Tenant
  let b: Tenant
  let tables: string[]

  beforeAll(async () => {
    db = await freshDatabase('rls')
    janua = await Janua.open({ databaseUrl: db.url })
    a = await createTenant(janua, { slug: 'tenant-a', isolation: 'shared' })
    b = await createTenant(janua, { slug: 'tenant-b', isolation: 'shared' })
    client = await adminClient(db)
    expect(await insertSampleRows(client, SHARED, a.id)).toBeGreaterThan(20)
    expect(await insertSampleRows(client, SHARED, b.id)).toBeGreaterThan(20)
    tables = await tenantTablesOf(client, SHARED)
  })
  afterAll(async () => {
    await client?.end()
    await janua?.close()
    await db?.drop()
  })

  it('covers every tenant table of the templates (and the fixture filled each for both tenants)', async () => {
    expect(tables.length).toBeGreaterThanOrEqual(20)
    for (const t of [
      'users',
      'sessions',
      'session_anomaly_reports',
      'mfa_methods',
      'passkeys',
      'teams',
      'team_members',
      'team_invitations',
      'roles',
      'role_assignments',
      'policies',
      'payment_customers',
      'payment_methods',
      'billing_subscriptions',
      'payment_intents',
      'usage_records',
      'api_keys',
      'audit_logs',
      'integrations',
      'analytics_events',
    ]) {
      expect(tables).toContain(t)
    }
    // As the admin (who bypasses RLS): both tenants have rows in every tenant table.
    for (const table of tables) {
      const { rows } = await client.query<{ a: number; b: number }>(
        `select count(*) filter (where tenant_id = $1)::int as a, count(*) filter (where tenant_id = $2)::int as b from ${SHARED}.${quoteIdent(table)}`,
        [a.id, b.id],
      )
      expect(rows[0]!.a, table).toBeGreaterThan(0)
      expect(rows[0]!.b, table).toBeGreaterThan(0)
    }
  })

  it('every tenant table has RLS enabled and forced', async () => {
    const { rows } = await client.query<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }>(
      `select c.relname, c.relrowsecurity, c.relforcerowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = $1 and c.relname = any($2)`,
      [SHARED, tables],
    )
    expect(rows).toHaveLength(tables.length)
    for (const r of rows) expect([r.relname, r.relrowsecurity, r.relforcerowsecurity]).toEqual([r.relname, true, true])
  })

  it("with tenant A set, every tenant table returns only A's rows (and some)", async () => {
    for (const [me, other] of [
      [a, b],
      [b, a],
    ] as const) {
      await asApp(client, SHARED, me.id, async () => {
        for (const table of tables) {
          const { rows } = await client.query<{ n: number; mine: number; others: number }>(
            `select count(*)::int as n, count(*) filter (where tenant_id = $1)::int as mine, count(*) filter (where tenant_id is distinct from $1)::int as others
               from ${quoteIdent(table)}`,
            [me.id],
          )
          expect(rows[0]!.others, `${me.slug} reading ${table}`).toBe(0)
          expect(rows[0]!.mine, `${me.slug} reading ${table}`).toBe(rows[0]!.n)
          expect(rows[0]!.n, `${me.slug} reading ${table}`).toBeGreaterThan(0)
          const byId = await client.query(`select 1 from ${quoteIdent(table)} where tenant_id = $1`, [other.id])
          expect(byId.rowCount, `${me.slug} looking for ${other.slug}'s rows in ${table}`).toBe(0)
        }
      })
    }
  })

  it("with the setting '' (what a pooled connection reads after a transaction that set it), zero rows everywhere", async () => {
    await asApp(client, SHARED, '', async () => {
      for (const table of tables) {
        expect((await client.query(`select 1 from ${quoteIdent(table)}`)).rowCount, table).toBe(0)
      }
    })
  })

  it('with the setting never set in the session, zero rows and no error', async () => {
    const fresh = await adminClient(db)
    try {
      await asApp(fresh, SHARED, null, async () => {
        for (const table of tables) {
          expect((await fresh.query(`select 1 from ${quoteIdent(table)}`)).rowCount, table).toBe(0)
        }
      })
    } finally {
      await fresh.end()
    }
  })

  it("an insert into users carrying B's id while A is set fails with 42501", async () => {
    await expect(asApp(client, SHARED, a.id, () => client.query(`insert into users (tenant_id, email) values ($1, 'intruder@example.test')`, [b.id]))).rejects.toMatchObject({
      code: '42501',
    })
    // The same insert with A's id works.
    await asApp(client, SHARED, a.id, async () => {
      await client.query(`insert into users (tenant_id, email) values ($1, 'welcome@example.test')`, [a.id])
      expect((await client.query(`select 1 from users where email = 'welcome@example.test'`)).rowCount).toBe(1)
    })
    const asAdmin = await client.query(`select tenant_id from ${SHARED}.users where email in ('intruder@example.test', 'welcome@example.test')`)
    expect(asAdmin.rows).toEqual([{ tenant_id: a.id }])
  })

  it("A cannot move its rows to B, nor touch B's rows", async () => {
    await expect(asApp(client, SHARED, a.id, () => client.query(`update analytics_events set tenant_id = $1`, [b.id]))).rejects.toMatchObject({ code: '42501' })
    const result = await asApp(client, SHARED, a.id, async () => ({
      updated: (await client.query(`update users set display_name = 'hacked' where tenant_id = $1`, [b.id])).rowCount,
      deleted: (await client.query(`delete from analytics_events where tenant_id = $1`, [b.id])).rowCount,
    }))
    expect(result).toEqual({ updated: 0, deleted: 0 })
    const check = await client.query(`select count(*)::int as n from ${SHARED}.users where display_name = 'hacked'`)
    expect(check.rows[0].n).toBe(0)
  })

  it('the app role may only insert and select audit_logs', async () => {
    await expect(asApp(client, SHARED, a.id, () => client.query(`update audit_logs set outcome = outcome`))).rejects.toMatchObject({ code: '42501' })
    await expect(asApp(client, SHARED, a.id, () => client.query(`delete from audit_logs`))).rejects.toMatchObject({ code: '42501' })
    await expect(asApp(client, SHARED, a.id, () => client.query(`truncate audit_logs`))).rejects.toMatchObject({ code: '42501' })
    const n = await asApp(client, SHARED, a.id, async () => (await client.query('select 1 from audit_logs')).rowCount)
    expect(n).toBeGreaterThan(0)
  })

  it('the app role cannot see the template history nor the control plane', async () => {
    await expect(asApp(client, SHARED, a.id, () => client.query(`select * from janua_template_history`))).rejects.toMatchObject({ code: '42501' })
    await expect(asApp(client, SHARED, a.id, () => client.query(`select * from janua.tenants`))).rejects.toMatchObject({ code: '42501' })
  })

  it("inspect counts only the tenant's own rows in the shared placement", async () => {
    const inspection = await inspectTenant(janua, 'tenant-a')
    expect(inspection.tables.map((t) => t.name).sort()).toEqual(tables)
    for (const table of tables) {
      const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from ${SHARED}.${quoteIdent(table)} where tenant_id = $1`, [a.id])
      expect(inspection.tables.find((t) => t.name === table)?.rows, table).toBe(rows[0]!.n)
    }
  })

  it("dropping A removes every row of A from every tenant table, and none of B's", async () => {
    const countsOf = async (id: string) => {
      const counts: Record<string, number> = {}
      for (const table of tables) {
        counts[table] = (await client.query<{ n: number }>(`select count(*)::int as n from ${SHARED}.${quoteIdent(table)} where tenant_id = $1`, [id])).rows[0]!.n
      }
      return counts
    }
    const bBefore = await countsOf(b.id)
    await dropTenant(janua, 'tenant-a', { confirmed: true })
    const aAfter = await countsOf(a.id)
    for (const table of tables) expect(aAfter[table], table).toBe(0)
    expect(await countsOf(b.id)).toEqual(bBefore)
  })
})
