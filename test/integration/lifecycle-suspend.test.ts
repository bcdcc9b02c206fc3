import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { resumeTenant, suspendTenant, updateTenant } from '../../src/core/lifecycle.js'
import { migrateFleet } from '../../src/core/migrate.js'
import { verifyFleet } from '../../src/core/verify.js'
import { moveTenant } from '../../src/core/move/move.js'
import { createTenant, dropTenant, inspectTenant, listTenants, type Tenant } from '../../src/core/tenants.js'
import { JanuaError } from '../../src/core/errors.js'
import { runCli } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { adminClient, asApp, defaultTemplates, insertSampleRows, quoteIdent, templateFolder } from '../helpers/foundation.js'

/** Suspension as the application sees it: SET ROLE janua_app, app.current_tenant set, at every level. */
describe('tenant suspend / resume / update, enforced by the database', () => {
  let db: TestDatabase
  let janua: Janua
  const clients = new Map<string, pg.Client>()
  const tenants: Record<string, Tenant> = {}

  const clientFor = async (t: Tenant) => {
    let c = clients.get(t.placement.database)
    if (!c) {
      c = await adminClient(db, t.placement.database)
      clients.set(t.placement.database, c)
    }
    return c
  }
  const write = async (t: Tenant) =>
    asApp(await clientFor(t), t.placement.schema, t.id, async () => {
      const c = await clientFor(t)
      await c.query(`insert into users (tenant_id, email) values ($1, $2)`, [t.id, `w${Math.random()}@example.com`])
    })
  const read = async (t: Tenant) =>
    asApp(await clientFor(t), t.placement.schema, t.id, async () =>
      Number((await (await clientFor(t)).query<{ n: string }>(`select count(*) as n from ${quoteIdent(t.placement.schema)}.users`)).rows[0]!.n),
    )
  const errorOf = async (p: Promise<unknown>) => {
    try {
      await p
    } catch (error) {
      return error as { code?: string; message: string }
    }
    throw new Error('expected an error')
  }

  beforeAll(async () => {
    db = await freshDatabase('suspend')
    janua = await Janua.open({ databaseUrl: db.url })
    for (const [slug, isolation] of [
      ['sh-a', 'shared'],
      ['sh-b', 'shared'],
      ['sc-a', 'schema'],
      ['db-a', 'database'],
    ] as const) {
      tenants[slug] = await createTenant(janua, { slug, isolation })
      const t = tenants[slug]!
      const c = await clientFor(t)
      expect(await insertSampleRows(c, t.placement.schema, t.id)).toBeGreaterThan(0)
    }
  }, 120_000)
  afterAll(async () => {
    for (const c of clients.values()) await c.end()
    await janua?.close()
    await db?.drop()
  })

  for (const slug of ['sh-a', 'sc-a', 'db-a']) {
    it(`${slug}: suspend makes writes fail (55000, "suspended") and reads go on; resume restores writes; --no-read blocks reads`, async () => {
      const t = tenants[slug]!
      const before = await read(t)
      await write(t)
      const suspended = await suspendTenant(janua, slug, { reason: 'unpaid' })
      expect(suspended.suspension).toMatchObject({ mode: 'read-only', reason: 'unpaid', previousStatus: 'active' })
      const refused = await errorOf(write(t))
      expect(refused.code).toBe('55000')
      expect(refused.message).toContain('suspended')
      expect(await read(t)).toBe(before + 1)
      if (slug === 'sh-a') {
        // Another tenant of the same shared placement writes on.
        await write(tenants['sh-b']!)
      }
      // janua's own sessions (migrations) are not fenced: the owner writes the suspended tenant's rows.
      const c = await clientFor(t)
      await c.query(`update ${quoteIdent(t.placement.schema)}.users set display_name = 'x' where tenant_id = $1`, [t.id])

      await suspendTenant(janua, slug, { noRead: true })
      const blocked = await read(t).then(
        (n) => ({ n }),
        (error: { code?: string }) => ({ code: error.code }),
      )
      // shared: RLS yields no rows; schema and database: no USAGE on the schema (42501).
      if (slug === 'sh-a') expect(blocked).toEqual({ n: 0 })
      else expect(blocked).toEqual({ code: '42501' })
      if (slug === 'sh-a') expect(await read(tenants['sh-b']!)).toBeGreaterThan(0)
      if (slug === 'db-a') {
        const { rows } = await db.query<{ ok: boolean }>(`select has_database_privilege('janua_app', $1, 'CONNECT') as ok`, [t.placement.database])
        expect(rows[0]!.ok).toBe(false)
      }
      const inspected = await inspectTenant(janua, slug)
      expect(inspected.commercialStatus).toBe('suspended')
      expect(inspected.suspension).toMatchObject({ mode: 'no-read', reason: 'unpaid' })

      const resumed = await resumeTenant(janua, slug)
      expect(resumed.commercialStatus).toBe('active')
      await write(t)
      expect(await read(t)).toBe(before + 2)
      if (slug === 'db-a') {
        const { rows } = await db.query<{ ok: boolean }>(`select has_database_privilege('janua_app', $1, 'CONNECT') as ok`, [t.placement.database])
        expect(rows[0]!.ok).toBe(true)
      }
    }, 60_000)
  }

  it('db verify does not report a suspension (janua_* objects) as drift, in either mode', async () => {
    await suspendTenant(janua, 'sh-a', { noRead: true })
    await suspendTenant(janua, 'sc-a')
    await suspendTenant(janua, 'db-a', { noRead: true })
    try {
      const report = await verifyFleet(janua)
      // Nothing: neither janua's objects nor the app role's USAGE a no-read tenant's own schema lost on purpose.
      const findings = report.placements.flatMap((p) => p.findings.map((f) => ({ placement: p.placement.schema, code: f.code, actual: f.actual })))
      expect(findings, JSON.stringify(findings, null, 1)).toEqual([])
      // The same revocation on a tenant that is not suspended --no-read (sc-a is read-only) is drift.
      const schema = quoteIdent(tenants['sc-a']!.placement.schema)
      await db.query(`revoke usage on schema ${schema} from janua_app`)
      try {
        const drifted = (await verifyFleet(janua)).placements.flatMap((p) => p.findings.map((f) => ({ placement: p.placement.schema, code: f.code })))
        expect(drifted).toEqual([{ placement: tenants['sc-a']!.placement.schema, code: 'drift/schema' }])
      } finally {
        await db.query(`grant usage on schema ${schema} to janua_app`)
      }
    } finally {
      for (const slug of ['sh-a', 'sc-a', 'db-a']) await resumeTenant(janua, slug)
    }
  }, 120_000)

  it('status, plan and limits round-trip through update / list / inspect; status suspended goes through suspend', async () => {
    const r = await updateTenant(janua, 'sh-b', { status: 'trial', plan: 'pro', limits: ['max_users=50', 'sso=true', 'tier=gold'], name: 'Beta Corp' })
    expect(r).toMatchObject({ commercialStatus: 'trial', plan: 'pro', limits: { max_users: 50, sso: true, tier: 'gold' }, name: 'Beta Corp' })
    const listed = await listTenants(janua, { commercialStatus: 'trial', plan: 'pro' })
    expect(listed.map((t) => t.slug)).toEqual(['sh-b'])
    expect(listed[0]).toMatchObject({ commercialStatus: 'trial', plan: 'pro', limits: { max_users: 50, sso: true, tier: 'gold' }, name: 'Beta Corp' })
    await updateTenant(janua, 'sh-b', { limits: ['tier=null'] })
    expect((await inspectTenant(janua, 'sh-b')).limits).toEqual({ max_users: 50, sso: true })
    const refused = await updateTenant(janua, 'sh-b', { status: 'suspended' }).catch((e: JanuaError) => e)
    expect(refused).toBeInstanceOf(JanuaError)
    expect((refused as JanuaError).exitCode).toBe(2)
    // Journaled.
    const { rows } = await db.query<{ kind: string; status: string }>(`select kind, status from janua.operations where tenant_slug = 'sh-b' and kind = 'tenant.update' order by id`)
    expect(rows).toEqual([
      { kind: 'tenant.update', status: 'succeeded' },
      { kind: 'tenant.update', status: 'succeeded' },
    ])
    // A suspension keeps the status it had, and resume restores it.
    await suspendTenant(janua, 'sh-b')
    expect((await listTenants(janua, { commercialStatus: 'suspended' })).map((t) => t.slug)).toEqual(['sh-b'])
    expect((await resumeTenant(janua, 'sh-b')).commercialStatus).toBe('trial')
  }, 60_000)

  it('the CLI: update / list --json / inspect --json round-trip; suspend and resume --json; update --status suspended exits 2', async () => {
    const env = { DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: undefined }
    const updated = await runCli(['tenant', 'update', 'db-a', '--status', 'cancelled', '--plan', 'team', '--limit', 'seats=10', '--limit', 'region=eu', '--json'], { env })
    expect(updated.code, updated.stderr).toBe(0)
    expect(updated.json).toMatchObject({ commercialStatus: 'cancelled', plan: 'team', limits: { seats: 10, region: 'eu' } })
    const listed = await runCli(['tenant', 'list', '--plan', 'team', '--commercial-status', 'cancelled', '--json'], { env })
    expect(listed.json.tenants.map((t: { slug: string }) => t.slug)).toEqual(['db-a'])
    expect(listed.json.tenants[0]).toMatchObject({ commercialStatus: 'cancelled', plan: 'team', limits: { seats: 10, region: 'eu' }, suspension: null })
    const inspected = await runCli(['tenant', 'inspect', 'db-a', '--json'], { env })
    expect(inspected.json).toMatchObject({ commercialStatus: 'cancelled', plan: 'team', limits: { seats: 10, region: 'eu' } })
    const refused = await runCli(['tenant', 'update', 'db-a', '--status', 'suspended', '--json'], { env })
    expect(refused.code).toBe(2)
    const suspended = await runCli(['tenant', 'suspend', 'db-a', '--reason', 'chargeback', '--json'], { env })
    expect(suspended.code, suspended.stderr).toBe(0)
    expect(suspended.json).toMatchObject({ commercialStatus: 'suspended', suspension: { mode: 'read-only', reason: 'chargeback', previousStatus: 'cancelled' } })
    expect((await runCli(['tenant', 'inspect', 'db-a', '--json'], { env })).json.suspension).toMatchObject({ reason: 'chargeback' })
    const resumed = await runCli(['tenant', 'resume', 'db-a', '--json'], { env })
    expect(resumed.json).toMatchObject({ commercialStatus: 'cancelled', suspension: null })
    await write(tenants['db-a']!)
  }, 120_000)

  it('a suspension survives tenant migrate (migrations reach the suspended tenant), and a move refuses it (exit 2)', async () => {
    await suspendTenant(janua, 'sc-a', { reason: 'audit' })
    await suspendTenant(janua, 'sh-a')
    const dir = templateFolder({ '0005_nickname.sql': `alter table users add column nickname text;\nupdate users set nickname = email;\n` }, defaultTemplates)
    const j2 = await Janua.open({ databaseUrl: db.url, templates: dir })
    try {
      const report = await migrateFleet(j2, {})
      expect(report.summary.failed).toBe(0)
      for (const slug of ['sc-a', 'sh-a']) {
        const t = tenants[slug]!
        expect((await inspectTenant(j2, slug)).version).toBe(5)
        const c = await clientFor(t)
        const { rows } = await c.query<{ n: string }>(`select count(*) as n from ${quoteIdent(t.placement.schema)}.users where tenant_id = $1 and nickname is null`, [t.id])
        expect(Number(rows[0]!.n)).toBe(0)
        expect((await errorOf(write(t))).code).toBe('55000')
      }
      await write(tenants['sh-b']!)
      const move = await moveTenant(j2, { slug: 'sc-a', to: 'shared' }).catch((e: JanuaError) => e)
      expect(move).toBeInstanceOf(JanuaError)
      expect((move as JanuaError).exitCode).toBe(2)
      expect((move as JanuaError).message).toContain('suspended')
      await resumeTenant(j2, 'sc-a')
      await resumeTenant(j2, 'sh-a')
      await write(tenants['sc-a']!)
      await dropTenant(j2, 'sc-a', { confirmed: true })
      // A suspended shared tenant dropped: its triggers, no-read policies and list entry go with it.
      await createTenant(j2, { slug: 'sh-gone', isolation: 'shared' })
      await suspendTenant(j2, 'sh-gone', { noRead: true })
      await dropTenant(j2, 'sh-gone', { confirmed: true })
      const schema = tenants['sh-b']!.placement.schema
      const left = await db.query(
        `select tgname from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and tgname like 'janua\\_suspend\\_%'
         union all select polname from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and polname = 'janua_suspended'
         union all select slug from janua_guard.suspended_tenants`,
        [schema],
      )
      expect(left.rows).toEqual([])
      expect((await verifyFleet(j2)).ok).toBe(true)
    } finally {
      await j2.close()
    }
  }, 120_000)
})
