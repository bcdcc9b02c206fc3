import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { updateTenant } from '../../src/core/lifecycle.js'
import { rewrapTenantKeys, rotateTenantKey, showTenantKey } from '../../src/core/tenant-keys.js'
import { createTenant, dropTenant } from '../../src/core/tenants.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { adminClient, tempFolder } from '../helpers/foundation.js'

const newKey = () => randomBytes(32).toString('base64')
const exitOf = async (p: Promise<unknown>) => ((await p.then(() => undefined).catch((e: unknown) => e)) as { exitCode?: number } | undefined)?.exitCode

describe('per-tenant data keys and the tenant directory', () => {
  let db: TestDatabase
  let janua: Janua
  const master = newKey()

  beforeAll(async () => {
    db = await freshDatabase('keys')
    janua = await Janua.open({ databaseUrl: db.url })
  }, 60_000)
  afterEach(() => {
    process.env.JANUA_MASTER_KEY = master
    delete process.env.JANUA_NEW_MASTER_KEY
    delete process.env.JANUA_MASTER_KEY_FILE
  })
  afterAll(async () => {
    delete process.env.JANUA_MASTER_KEY
    await janua?.close()
    await db?.drop()
  })

  const keyRows = async (slug: string) =>
    (
      await db.query<{ version: number; wrapped: string }>(
        'select k.version, k.wrapped from janua.tenant_keys k join janua.tenants t on t.id = k.tenant_id where t.slug = $1 order by 1',
        [slug],
      )
    ).rows

  it('without a master key: create needs none (no key made); the key commands exit 2 with the hint', async () => {
    delete process.env.JANUA_MASTER_KEY
    await createTenant(janua, { slug: 'nokey', isolation: 'shared' })
    expect(await keyRows('nokey')).toEqual([])
    const error = (await showTenantKey(janua, 'nokey').catch((e: unknown) => e)) as { exitCode: number; hint: string }
    expect(error.exitCode).toBe(2)
    expect(error.hint).toMatch(/JANUA_MASTER_KEY/)
    expect(await exitOf(rotateTenantKey(janua, 'nokey'))).toBe(2)
  })

  it('create -> a 256-bit key, stored only wrapped; rotate -> two versions, both unwrap', async () => {
    process.env.JANUA_MASTER_KEY = master
    await createTenant(janua, { slug: 'ka', isolation: 'schema', domain: 'Acme.Example.com' })
    const v1 = await showTenantKey(janua, 'ka')
    expect(v1.version).toBe(1)
    expect(Buffer.from(v1.key, 'base64')).toHaveLength(32)
    const rows = await keyRows('ka')
    expect(rows).toHaveLength(1)
    expect(rows[0]!.wrapped).not.toContain(v1.key)
    expect(rows[0]!.wrapped).toMatch(/^aes-256-gcm:v1:/)
    const v2 = await rotateTenantKey(janua, 'ka')
    expect(v2.version).toBe(2)
    expect(v2.versions).toEqual([1, 2])
    expect(v2.key).not.toBe(v1.key)
    expect((await showTenantKey(janua, 'ka', { version: 1 })).key).toBe(v1.key)
    expect((await showTenantKey(janua, 'ka')).key).toBe(v2.key)
    expect(await exitOf(showTenantKey(janua, 'ka', { version: 3 }))).toBe(2)
  })

  it('a wrong master key exits 2 and changes nothing (show, rotate, create, rewrap)', async () => {
    const before = JSON.stringify(await keyRows('ka'))
    const meta = JSON.stringify((await db.query('select * from janua.meta order by key')).rows)
    process.env.JANUA_MASTER_KEY = newKey()
    expect(await exitOf(showTenantKey(janua, 'ka'))).toBe(2)
    expect(await exitOf(rotateTenantKey(janua, 'ka'))).toBe(2)
    process.env.JANUA_NEW_MASTER_KEY = newKey()
    expect(await exitOf(rewrapTenantKeys(janua))).toBe(2)
    expect(await exitOf(createTenant(janua, { slug: 'wrongkey', isolation: 'schema' }))).toBe(2)
    expect((await db.query(`select 1 from janua.tenants where slug = 'wrongkey'`)).rowCount).toBe(0)
    expect((await db.query(`select 1 from pg_namespace where nspname = 'tenant_wrongkey'`)).rowCount).toBe(0)
    expect(JSON.stringify(await keyRows('ka'))).toBe(before)
    expect(JSON.stringify((await db.query('select * from janua.meta order by key')).rows)).toBe(meta)
    process.env.JANUA_MASTER_KEY = 'not a key'
    expect(await exitOf(showTenantKey(janua, 'ka'))).toBe(2)
  })

  it('the master key from a file; rewrap under a new master key keeps every data key', async () => {
    const { writeFileSync } = await import('node:fs')
    const { default: path } = await import('node:path')
    const file = path.join(tempFolder('janua-mk-'), 'master.key')
    writeFileSync(file, `${master}\n`, { mode: 0o600 })
    delete process.env.JANUA_MASTER_KEY
    process.env.JANUA_MASTER_KEY_FILE = file
    const v1 = (await showTenantKey(janua, 'ka', { version: 1 })).key
    const v2 = (await showTenantKey(janua, 'ka', { version: 2 })).key
    delete process.env.JANUA_MASTER_KEY_FILE
    const next = newKey()
    process.env.JANUA_MASTER_KEY = master
    process.env.JANUA_NEW_MASTER_KEY = next
    expect((await rewrapTenantKeys(janua)).rewrapped).toBeGreaterThanOrEqual(2)
    expect(await exitOf(showTenantKey(janua, 'ka'))).toBe(2) // the old master key no longer opens them
    process.env.JANUA_MASTER_KEY = next
    expect((await showTenantKey(janua, 'ka', { version: 1 })).key).toBe(v1)
    expect((await showTenantKey(janua, 'ka', { version: 2 })).key).toBe(v2)
    process.env.JANUA_NEW_MASTER_KEY = master
    await rewrapTenantKeys(janua) // back, for the tests below
  })

  it('resolve_tenant as the app role: by slug and by domain (any case), nothing for an unknown one; janua.tenants stays closed', async () => {
    await createTenant(janua, { slug: 'kb', isolation: 'database', domain: 'kb.example.org' })
    const client: pg.Client = await adminClient(db)
    try {
      await client.query('set role janua_app')
      const bySlug = (await client.query('select * from janua.resolve_tenant($1)', ['ka'])).rows
      expect(bySlug).toHaveLength(1)
      expect(bySlug[0]).toMatchObject({ slug: 'ka', status: 'active', isolation: 'schema', server: 'primary', database: db.name, schema: 'tenant_ka' })
      expect(Object.keys(bySlug[0]).sort()).toEqual(['commercial_status', 'database', 'host', 'id', 'isolation', 'port', 'schema', 'server', 'slug', 'status', 'suspended'])
      expect(bySlug[0]).toMatchObject({ commercial_status: 'active', suspended: null })
      const byDomain = (await client.query('select * from janua.resolve_tenant($1)', ['ACME.example.COM'])).rows
      expect(byDomain.map((r) => r.slug)).toEqual(['ka'])
      const db2 = (await client.query('select * from janua.resolve_tenant($1)', ['kb.example.org'])).rows[0]
      expect(db2).toMatchObject({ slug: 'kb', isolation: 'database', schema: 'tenant' })
      expect(db2.database).toMatch(/^janua_[0-9a-f]{8}_kb$/)
      expect((await client.query('select * from janua.resolve_tenant($1)', ['nobody.example.com'])).rows).toEqual([])
      for (const table of ['janua.tenants', 'janua.tenant_keys', 'janua.servers', 'janua.placements']) {
        const code = await client.query(`select * from ${table}`).then(
          () => 'read',
          (e: { code?: string }) => e.code,
        )
        expect(code, table).toBe('42501')
      }
    } finally {
      await client.end()
    }
    const fn = (await db.query<{ prosecdef: boolean; proconfig: string[] }>(`select prosecdef, proconfig from pg_proc where proname = 'resolve_tenant'`)).rows[0]!
    expect(fn.prosecdef).toBe(true)
    expect(fn.proconfig).toEqual(['search_path=pg_catalog, pg_temp'])
  })

  it('domains are unique: a second tenant with the domain exits 2 before anything is made; tenant update --domain changes it (journaled)', async () => {
    expect(await exitOf(createTenant(janua, { slug: 'kc', isolation: 'schema', domain: 'acme.example.com' }))).toBe(2)
    expect((await db.query(`select 1 from pg_namespace where nspname = 'tenant_kc'`)).rowCount).toBe(0)
    expect(await exitOf(createTenant(janua, { slug: 'kc', isolation: 'schema', domain: 'not a domain' }))).toBe(2)
    expect(await exitOf(updateTenant(janua, 'kb', { domain: 'acme.example.com' }))).toBe(2)
    expect(await exitOf(updateTenant(janua, 'kb', { domain: 'not a domain' }))).toBe(2)
    expect(await updateTenant(janua, 'kb', { domain: 'New.Example.org' })).toMatchObject({ slug: 'kb', domain: 'new.example.org', changed: ['domain'] })
    expect((await db.query(`select slug from janua.resolve_tenant('new.example.org')`)).rows).toEqual([{ slug: 'kb' }])
    expect(await updateTenant(janua, 'kb', { domain: null })).toMatchObject({ domain: null })
    const journal = await db.query(`select status from janua.operations where kind = 'tenant.update' and tenant_slug = 'kb' order by started_at`)
    expect(journal.rows.map((r) => r.status)).toEqual(['succeeded', 'succeeded'])
    expect((await db.query(`select slug from janua.resolve_tenant('new.example.org')`)).rows).toEqual([])
  })

  it('drop -> the key material is gone from the control plane (crypto-shredding)', async () => {
    const id = (await db.query<{ id: string }>(`select id from janua.tenants where slug = 'ka'`)).rows[0]!.id
    expect((await db.query('select count(*)::int as n from janua.tenant_keys where tenant_id = $1', [id])).rows[0].n).toBe(2)
    await dropTenant(janua, 'ka', { confirmed: true })
    expect((await db.query('select count(*)::int as n from janua.tenant_keys where tenant_id = $1', [id])).rows[0].n).toBe(0)
    expect(await exitOf(showTenantKey(janua, 'ka'))).toBe(2)
  })
})
