import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { moveTenant } from '../../src/core/move/move.js'
import { tenantCredentials, loginRole, tenantRole, groupRole } from '../../src/core/tenant-access.js'
import { createTenant, dropTenant, type Tenant } from '../../src/core/tenants.js'
import { resumeTenant, suspendTenant } from '../../src/core/lifecycle.js'
import { verifyFleet } from '../../src/core/verify.js'
import { migrateFleet } from '../../src/core/migrate.js'
import { addServer } from '../../src/core/servers.js'
import { startScramCluster, type ScramCluster } from '../helpers/scram-cluster.js'
import { tempFolder } from '../helpers/foundation.js'
import { registerSecret } from '../helpers/secret-ledger.js'

/**
 * Tenant login roles on a cluster that checks passwords (scram-sha-256 over TCP): what a tenant's
 * own role reaches, and what it does not, by privilege rather than by RLS.
 */
async function connectAs(url: string, database?: string): Promise<pg.Client> {
  const config = new URL(url)
  if (database) config.pathname = `/${database}`
  const client = new pg.Client({ connectionString: config.toString() })
  await client.connect()
  return client
}

async function sqlstate(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn()
    return undefined
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).message
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('per-tenant login roles', () => {
  let cluster: ScramCluster
  let janua: Janua
  let cpId: string
  const t: Record<string, Tenant> = {}
  const url: Record<string, string> = {}
  const passwords = { list: [] as string[], push: (...secrets: string[]) => (secrets.forEach(registerSecret), passwords.list.push(...secrets)) }
  let extraTemplates = ''

  beforeAll(async () => {
    cluster = await startScramCluster()
    await cluster.query('create database app')
    janua = await Janua.open({ databaseUrl: cluster.url('app') })
    for (const [slug, isolation] of [
      ['sa', 'schema'],
      ['sb', 'schema'],
      ['da', 'database'],
      ['dbb', 'database'],
      ['sh', 'shared'],
    ] as const)
      t[slug] = await createTenant(janua, { slug, isolation })
    cpId = (await cluster.query<{ value: string }>(`select value from janua.meta where key = 'id'`, [], 'app')).rows[0]!.value
    for (const slug of ['sa', 'sb', 'da', 'dbb']) {
      const c = await tenantCredentials(janua, slug)
      url[slug] = c.connectionString!
      passwords.push(c.password!)
    }
  }, 120_000)
  afterAll(async () => {
    await janua?.close()
    cluster?.stop()
  })

  it('roles: named with the control plane id, NOLOGIN group and tenant role, LOGIN login role, no attribute beyond LOGIN', async () => {
    const { rows } = await cluster.query<{ rolname: string; rolcanlogin: boolean; rolsuper: boolean; rolbypassrls: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>(
      `select rolname, rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole from pg_roles where rolname like $1 order by rolname`,
      [`janua\\_${cpId}\\_%`],
    )
    const names = rows.map((r) => r.rolname)
    expect(names).toEqual(expect.arrayContaining([groupRole(cpId), tenantRole(cpId, 'sa'), loginRole(cpId, 'sa', 'a'), loginRole(cpId, 'da', 'a')]))
    expect(names.some((n) => n.includes('_t_sh'))).toBe(false)
    for (const r of rows) {
      expect([r.rolsuper, r.rolbypassrls, r.rolcreatedb, r.rolcreaterole]).toEqual([false, false, false, false])
      expect(r.rolcanlogin).toBe(/_[ab]$/.test(r.rolname))
      expect(Buffer.byteLength(r.rolname)).toBeLessThanOrEqual(63)
    }
  })

  it("schema level: A's role reads and writes A's tables; B's schema is refused by privilege (42501), even with app.current_tenant = B", async () => {
    const c = await connectAs(url.sa!)
    try {
      expect((await c.query('show search_path')).rows[0].search_path).toContain('tenant_sa')
      expect((await c.query(`select current_setting('app.current_tenant') as v`)).rows[0].v).toBe(t.sa!.id)
      await c.query(`insert into teams (tenant_id, name, slug) values ($1, 'core', 'core')`, [t.sa!.id])
      expect((await c.query('select count(*)::int as n from teams')).rows[0].n).toBe(1)
      await c.query(`update teams set name = 'core2'`)
      await c.query(`set app.current_tenant = '${t.sb!.id}'`)
      expect(await sqlstate(() => c.query('select count(*) from tenant_sb.teams'))).toBe('42501')
      expect(await sqlstate(() => c.query('select count(*) from janua_shared.teams'))).toBe('42501')
      expect(await sqlstate(() => c.query('select count(*) from janua.tenants'))).toBe('42501')
      expect(await sqlstate(() => c.query('create table tenant_sa.x (i int)'))).toBe('42501')
    } finally {
      await c.end()
    }
    // Another tenant's database: CONNECT refused.
    expect(await sqlstate(() => connectAs(url.sa!, t.da!.placement.database))).toBe('42501')
  })

  it("database level: A's role reads and writes its own database; B's database is refused at connect (42501); the control plane's schemas are refused", async () => {
    const c = await connectAs(url.da!)
    try {
      expect((await c.query('show search_path')).rows[0].search_path).toContain('tenant')
      await c.query(`insert into teams (tenant_id, name, slug) values ($1, 'x', 'x')`, [t.da!.id])
      expect((await c.query('select count(*)::int as n from teams')).rows[0].n).toBe(1)
    } finally {
      await c.end()
    }
    expect(await sqlstate(() => connectAs(url.da!, t.dbb!.placement.database))).toBe('42501')
    expect(await sqlstate(() => connectAs(url.da!, `janua_${cpId}__template`))).toBe('42501')
    // The control plane's database may be open to PUBLIC (the cluster's default): nothing of janua's in it is.
    // a refused login is an answer here: the checks below run only when the role may connect
    const p = await connectAs(url.da!, 'app').catch(() => undefined)
    if (p) {
      try {
        for (const s of ['janua.tenants', 'janua_shared.teams', 'tenant_sa.teams']) expect(await sqlstate(() => p.query(`select 1 from ${s} limit 1`))).toBe('42501')
      } finally {
        await p.end()
      }
    }
  })

  it('suspend --no-read: the tenant role reaches nothing (schema: USAGE, database: CONNECT); resume gives it back', async () => {
    await suspendTenant(janua, 'sa', { noRead: true })
    await suspendTenant(janua, 'da', { noRead: true })
    const c = await connectAs(url.sa!)
    try {
      expect(await sqlstate(() => c.query('select count(*) from tenant_sa.teams'))).toBe('42501')
    } finally {
      await c.end()
    }
    expect(await sqlstate(() => connectAs(url.da!))).toBe('42501')
    await resumeTenant(janua, 'sa')
    await resumeTenant(janua, 'da')
    for (const slug of ['sa', 'da']) {
      const back = await connectAs(url[slug]!)
      await back.query('select count(*) from teams')
      await back.end()
    }
  })

  it('shared level: no tenant role (only RLS separates shared tenants): exit 2 with the hint', async () => {
    const error = (await tenantCredentials(janua, 'sh').catch((e: unknown) => e)) as { exitCode?: number; hint?: string }
    expect(error.exitCode).toBe(2)
    expect(error.hint).toMatch(/migrate-isolation sh --to schema/)
  })

  it('credentials twice without --rotate: exit 2, nothing changed', async () => {
    const error = (await tenantCredentials(janua, 'sa').catch((e: unknown) => e)) as { exitCode?: number }
    expect(error.exitCode).toBe(2)
    const c = await connectAs(url.sa!)
    await c.end()
  })

  it('--rotate: the new password connects; the old one during the grace, and not after', async () => {
    const rotated = await tenantCredentials(janua, 'sb', { rotate: true, graceMs: 2500 })
    passwords.push(rotated.password!)
    expect(rotated.role).toBe(loginRole(cpId, 'sb', 'b'))
    expect(rotated.previous?.role).toBe(loginRole(cpId, 'sb', 'a'))
    const fresh = await connectAs(rotated.connectionString!)
    expect((await fresh.query('select count(*)::int as n from teams')).rows[0].n).toBe(0)
    await fresh.end()
    const old = await connectAs(url.sb!)
    await old.end()
    await sleep(3000)
    expect(await sqlstate(() => connectAs(url.sb!))).toBe('28P01')
    const again = await connectAs(rotated.connectionString!)
    await again.end()
    // A wrong password never connects.
    const wrong = new URL(rotated.connectionString!)
    wrong.password = 'not-the-password'
    expect(await sqlstate(() => connectAs(wrong.toString()))).toBe('28P01')
    url.sb = rotated.connectionString!
  })

  it('db verify: clean for tenant roles; a grant beyond the placement is lint/tenant-role-reach', async () => {
    const before = await verifyFleet(janua, {})
    // The group's copies of the app role's grants are not drift: the fleet verifies clean.
    expect(before.placements.flatMap((p) => p.findings)).toEqual([])
    expect(before.ok).toBe(true)
    expect(before.placements.flatMap((p) => p.findings).filter((f) => f.code === 'lint/tenant-role-reach')).toEqual([])
    await cluster.query(`grant usage on schema tenant_sb to ${tenantRole(cpId, 'sa')}`, [], 'app')
    await cluster.query(`grant connect on database ${t.dbb!.placement.database} to ${loginRole(cpId, 'da', 'a')}`)
    const after = await verifyFleet(janua, {})
    const reach = after.placements.flatMap((p) => p.findings).filter((f) => f.code === 'lint/tenant-role-reach')
    expect(reach.map((f) => f.object).sort()).toEqual([`database ${t.dbb!.placement.database}`, `schema app.tenant_sb`])
    await cluster.query(`revoke usage on schema tenant_sb from ${tenantRole(cpId, 'sa')}`, [], 'app')
    await cluster.query(`revoke connect on database ${t.dbb!.placement.database} from ${loginRole(cpId, 'da', 'a')}`)
  }, 120_000)

  it('a move: the role reaches the new placement and not the old one (kept source included)', async () => {
    const report = await moveTenant(janua, { slug: 'sa', to: 'database', keepSource: true })
    const kept = (report as unknown as { keptAs?: { schema: string } }).keptAs
    const newDb = `janua_${cpId}_sa`
    const c = await connectAs(url.sa!, newDb)
    try {
      expect((await c.query('show search_path')).rows[0].search_path).toMatch(/^tenant,/)
      expect((await c.query('select count(*)::int as n from teams')).rows[0].n).toBe(1)
      await c.query(`insert into teams (tenant_id, name, slug) values ($1, 'moved', 'moved')`, [t.sa!.id])
    } finally {
      await c.end()
    }
    // a refused login is an answer here: the checks below run only when the role may connect
    const old = await connectAs(url.sa!, 'app').catch(() => undefined)
    if (old) {
      try {
        const schemas = (await cluster.query<{ nspname: string }>(`select nspname from pg_namespace where nspname like 'janua_moved_%'`, [], 'app')).rows.map((r) => r.nspname)
        expect(kept === undefined || schemas.includes(kept.schema)).toBe(true)
        for (const s of schemas) expect(await sqlstate(() => old.query(`select 1 from ${s}.teams limit 1`))).toBe('42501')
        expect(await sqlstate(() => old.query(`select 1 from tenant_sa.teams limit 1`))).toMatch(/42501|42P01/)
      } finally {
        await old.end()
      }
    }
    const verify = await verifyFleet(janua, {})
    expect(verify.placements.flatMap((p) => p.findings).filter((f) => f.code === 'lint/tenant-role-reach')).toEqual([])
  }, 120_000)

  it('a move to shared drops the roles (no tenant role in a shared placement)', async () => {
    await moveTenant(janua, { slug: 'dbb', to: 'shared' })
    const { rows } = await cluster.query(`select rolname from pg_roles where rolname like $1`, [`${tenantRole(cpId, 'dbb').replaceAll('_', '\\_')}%`])
    expect(rows).toEqual([])
  }, 120_000)

  it('tenant drop: the roles are dropped', async () => {
    await dropTenant(janua, 'da', { confirmed: true })
    const { rows } = await cluster.query(`select rolname from pg_roles where rolname like $1`, [`${tenantRole(cpId, 'da').replaceAll('_', '\\_')}%`])
    expect(rows).toEqual([])
    expect(await sqlstate(() => connectAs(url.da!))).toMatch(/28P01|28000/)
  }, 60_000)

  it('a migration adds a table: its grants reach the tenant roles (through the group)', async () => {
    const file = '9999_extra.sql'
    const { cpSync, writeFileSync } = await import('node:fs')
    const { default: path } = await import('node:path')
    const dir = tempFolder('janua-tpl-')
    cpSync(path.join(process.cwd(), 'templates'), dir, { recursive: true })
    writeFileSync(
      path.join(dir, file),
      `create table notes (tenant_id uuid not null default nullif(current_setting('app.current_tenant', true), '')::uuid, body text);
       alter table notes enable row level security; alter table notes force row level security;
       create policy notes_tenant on notes using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid) with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);
       grant select, insert on notes to janua_app;`,
    )
    extraTemplates = dir
    const j2 = await Janua.open({ databaseUrl: cluster.url('app'), templates: dir })
    try {
      await migrateFleet(j2, {})
    } finally {
      await j2.close()
    }
    const c = await connectAs(url.sb!)
    try {
      await c.query(`insert into notes (body) values ('hi')`)
      expect((await c.query('select count(*)::int as n from notes')).rows[0].n).toBe(1)
      expect(await sqlstate(() => c.query('delete from notes'))).toBe('42501')
    } finally {
      await c.end()
    }
  })

  it('a move to another server: the roles are made there (same password) and dropped on the old one', async () => {
    const other = await startScramCluster()
    try {
      process.env.JANUA_SECRET_KEY = randomBytes(32).toString('base64')
      process.env.EU_URL = other.url('postgres')
      // The fleet is at the migration's templates now: the move builds the target from them.
      await janua.close()
      janua = await Janua.open({ databaseUrl: cluster.url('app'), templates: extraTemplates })
      await addServer(janua, { name: 'eu', urlEnv: 'EU_URL' })
      await moveTenant(janua, { slug: 'sb', to: 'schema', server: 'eu' })
      const moved = new URL(url.sb!)
      moved.port = String(other.port)
      moved.pathname = `/janua_${cpId}__shared`
      const c = await connectAs(moved.toString())
      try {
        expect((await c.query('show search_path')).rows[0].search_path).toContain('tenant_sb')
        expect((await c.query('select count(*)::int as n from teams')).rows[0].n).toBe(0)
      } finally {
        await c.end()
      }
      const { rows } = await cluster.query(`select rolname from pg_roles where rolname like $1`, [`${tenantRole(cpId, 'sb').replaceAll('_', '\\_')}%`])
      expect(rows).toEqual([])
      expect(await sqlstate(() => connectAs(url.sb!))).toBe('28P01')
      const verify = await verifyFleet(janua, {})
      expect(verify.placements.flatMap((p) => p.findings).filter((f) => f.code === 'lint/tenant-role-reach')).toEqual([])
      await dropTenant(janua, 'sb', { confirmed: true })
      expect((await other.query(`select rolname from pg_roles where rolname like $1`, [`janua\\_${cpId}\\_%`])).rows.map((r) => r.rolname)).toEqual([groupRole(cpId)])
    } finally {
      await janua.close()
      janua = await Janua.open({ databaseUrl: cluster.url('app') })
      other.stop()
    }
  }, 180_000)

  it('no password is in the control plane (audit, journal, credentials rows) nor in the role catalog as plain text', async () => {
    const dump = JSON.stringify(
      await Promise.all(
        ['janua.audit_log', 'janua.operations', 'janua.tenant_credentials', 'janua.tenants', 'janua.meta'].map(
          async (table) => (await cluster.query(`select * from ${table}`, [], 'app')).rows,
        ),
      ),
    )
    const authid = JSON.stringify((await cluster.query(`select rolpassword from pg_authid where rolname like 'janua%'`)).rows)
    for (const p of passwords.list) {
      expect(dump).not.toContain(p)
      expect(authid).not.toContain(p)
    }
    expect(authid).toMatch(/SCRAM-SHA-256\$4096:/)
  })
})
