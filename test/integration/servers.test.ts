import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureEmbedded, stopEmbedded, readEmbeddedState } from '../../src/core/embedded.js'
import { allOutput, runCli } from '../helpers/cli.js'
import { registerSecret } from '../helpers/secret-ledger.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { copyTemplates } from '../helpers/templates.js'
import { seedAsApp, snapshotTenant } from '../helpers/tenant-data.js'
import { parseIntoClientConfig } from 'pg-connection-string'
import pg from 'pg'
import { randomBytes } from 'node:crypto'
import { adminUrl } from '../helpers/db.js'

/**
 * Two servers: the suite's server (embedded, or JANUA_TEST_DATABASE_URL) as "primary", and a second
 * embedded PostgreSQL started by this file as "two" (always a real second server, with a password).
 */
describe('many servers', () => {
  let db: TestDatabase
  let dir: string
  let twoUrl: string
  let twoPassword: string
  const templates = copyTemplates()
  /** inline server passwords are sealed under this key (without it they are refused) */
  const secretKey = randomBytes(32).toString('base64')
  /** every password this file uses: none may appear in any output, journal, audit or servers column */
  const passwords = { list: [] as string[], push: (...secrets: string[]) => (secrets.forEach(registerSecret), passwords.list.push(...secrets)) }
  const env = () => ({ DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: templates.dir, TWO_URL: twoUrl, JANUA_SECRET_KEY: secretKey })
  const cli = (...args: string[]) => runCli([...args, '--json'], { env: env() })
  const human = (...args: string[]) => runCli(args, { env: env() })
  const onTwo = async (sql: string, database = 'postgres') => {
    const client = new pg.Client({ ...parseIntoClientConfig(twoUrl), database } as pg.ClientConfig)
    await client.connect()
    try {
      return await client.query(sql)
    } finally {
      await client.end()
    }
  }
  const withDatabase = (url: string, database: string) => Object.assign(new URL(url), { pathname: `/${database}` }).toString()

  beforeAll(async () => {
    db = await freshDatabase('servers')
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-server-two-'))
    fs.chmodSync(dir, 0o755)
    twoUrl = (await ensureEmbedded(dir)).url
    twoPassword = readEmbeddedState(dir)!.password
    passwords.push(twoPassword, secretKey)
  })
  afterAll(async () => {
    // a server the test already stopped has nothing left to stop
    await stopEmbedded(dir).catch(() => {})
    const pgDir = readEmbeddedState(dir)?.pgDir
    if (pgDir && !pgDir.startsWith(dir)) fs.rmSync(pgDir, { recursive: true, force: true })
    fs.rmSync(dir, { recursive: true, force: true })
    await db?.drop()
    templates.remove()
  })

  it('registers a server from an environment variable, checking it', async () => {
    expect((await cli('db', 'init')).code).toBe(0)
    const added = await cli('server', 'add', 'two', '--url-env', 'TWO_URL')
    expect(added.code, added.stdout).toBe(0)
    expect(added.json.check.missing).toEqual([])
    const bad = await cli('server', 'add', 'three', 'postgres://nobody:wrongpw@127.0.0.1:1/x')
    expect(bad.code).toBe(5)
    const list = await cli('server', 'list', '--check')
    expect(list.json.servers.map((s: { name: string }) => s.name)).toEqual(['primary', 'two'])
    expect(list.json.servers[1].reachable).toBe(true)
  })

  it('places tenants of every level on both servers; list, migrate and verify cover them all', async () => {
    for (const server of ['primary', 'two']) {
      for (const level of ['shared', 'schema', 'database']) {
        const r = await cli('tenant', 'create', `${server.slice(0, 1)}-${level}`, '--isolation', level, '--server', server)
        expect(r.code, r.stdout + r.stderr).toBe(0)
        expect(r.json.placement.server).toBe(server)
      }
    }
    const list = await cli('tenant', 'list')
    expect(list.json.tenants).toHaveLength(6)
    expect(list.json.tenants.filter((t: { placement: { server: string } }) => t.placement.server === 'two')).toHaveLength(3)

    templates.add('0005_phone.sql', 'alter table users add column phone text;\ncreate index users_tenant_phone_idx on users (tenant_id, phone);\n')
    const migrate = await cli('tenant', 'migrate')
    expect(migrate.code, migrate.stdout).toBe(0)
    const migrated = migrate.json.placements.filter((p: { status: string }) => p.status === 'migrated')
    expect(new Set(migrated.map((p: { placement: { server: string } }) => p.placement.server))).toEqual(new Set(['primary', 'two']))
    for (const slug of ['p-schema', 't-schema', 't-database', 't-shared']) expect((await cli('tenant', 'inspect', slug)).json.version).toBe(5)
    const verify = await cli('db', 'verify')
    expect(
      verify.code,
      JSON.stringify(
        verify.json?.placements?.filter((p: { findings: unknown[] }) => p.findings.length),
        null,
        1,
      ),
    ).toBe(0)
    const status = await cli('db', 'status')
    expect(status.json.tenants.byServer).toEqual({ primary: 3, two: 3 })
  })

  it('moves a database tenant with rows from server one to server two and back', async () => {
    const tenant = (await cli('tenant', 'inspect', 'p-database')).json
    await seedAsApp(db.admin, tenant.placement, tenant.id, 2)
    const before = await snapshotTenant(db.admin, tenant.placement, tenant.id)
    const there = await cli('tenant', 'move', 'p-database', '--to', 'database', '--server', 'two', '--yes')
    expect(there.code, there.stdout + there.stderr).toBe(0)
    expect(there.json.to.placement.server).toBe('two')
    const twoAdmin = parseIntoClientConfig(twoUrl)
    expect((await snapshotTenant(twoAdmin, there.json.to.placement, tenant.id)).tables).toEqual(before.tables)
    expect((await db.query('select 1 from pg_database where datname = $1', [tenant.placement.database])).rowCount).toBe(0)
    expect((await cli('db', 'verify')).code).toBe(0)
    const back = await cli('tenant', 'move', 'p-database', '--to', 'database', '--server', 'primary', '--yes')
    expect(back.code, back.stdout).toBe(0)
    expect((await snapshotTenant(db.admin, back.json.to.placement, tenant.id)).tables).toEqual(before.tables)
    expect((await cli('db', 'verify')).code).toBe(0)
  })

  it('with server two stopped, migrates everything on one, reports every tenant of two, and a re-run completes', async () => {
    templates.add('0006_locale.sql', 'alter table users add column locale text;\n')
    await stopEmbedded(dir)
    try {
      const run = await cli('tenant', 'migrate')
      expect(run.code).not.toBe(0)
      const placements = run.json.placements as { status: string; tenants: string[]; placement: { server: string }; error?: { message: string } }[]
      for (const p of placements.filter((x) => x.placement.server === 'primary')) expect(p.status).toBe('migrated')
      const failedTenants = placements.filter((x) => x.status === 'failed').flatMap((x) => x.tenants)
      expect(failedTenants.sort()).toEqual(['t-database', 't-schema', 't-shared'])
      for (const p of placements.filter((x) => x.placement.server === 'two')) expect(p.error!.message).toMatch(/unreachable|refused/i)
      const removal = await cli('server', 'remove', 'two')
      expect(removal.code).toBe(2)
    } finally {
      await ensureEmbedded(dir)
    }
    const rerun = await cli('tenant', 'migrate')
    expect(rerun.code, rerun.stdout).toBe(0)
    expect(rerun.json.summary.migrated).toBeGreaterThanOrEqual(3)
    expect((await cli('db', 'verify')).code).toBe(0)
  })

  // Issue 10 item 1: each leak has its regression. Every registration below is a second database of
  // server two's cluster, with a role whose password has the shape of the leak.
  it('stores and prints connection strings without their password: ?password=, a raw "@", key=value', async () => {
    const port = new URL(twoUrl).port
    const cases = [
      {
        name: 'qp',
        role: 'qp_role',
        password: `QpSECRET${randomBytes(4).toString('hex')}`,
        url: (pw: string) => `postgres://qp_role@127.0.0.1:${port}/qp_db?password=${encodeURIComponent(pw)}`,
      },
      { name: 'raw', role: 'raw_role', password: `Rw@tSECRET${randomBytes(4).toString('hex')}`, url: (pw: string) => `postgres://raw_role:${pw}@127.0.0.1:${port}/raw_db` },
      {
        name: 'kv',
        role: 'kv_role',
        password: `Kv SECRET'${randomBytes(4).toString('hex')}`,
        url: (pw: string) => `host=127.0.0.1 port=${port} user=kv_role password='${pw.replace(/'/g, "\\'")}' dbname=kv_db`,
      },
    ]
    for (const c of cases) {
      passwords.push(c.password, c.password.slice(c.password.indexOf('@') + 1))
      await onTwo(`create role ${c.role} login superuser password '${c.password.replace(/'/g, "''")}'`)
      await onTwo(`create database ${c.name}_db`)
      const refused = await runCli(['server', 'add', c.name, c.url(c.password), '--json'], { env: { ...env(), JANUA_SECRET_KEY: undefined } })
      expect(refused.code, refused.stdout).toBe(2)
      expect(refused.json.error.hint).toMatch(/--url-env/)
      const added = await cli('server', 'add', c.name, c.url(c.password))
      expect(added.code, added.stdout + added.stderr).toBe(0)
      expect(added.json.passwordStored).toBe(true)
      expect(added.json.url).not.toMatch(/password|SECRET|\*\*\*/)
    }
    const list = await cli('server', 'list', '--check')
    for (const c of cases) {
      const server = list.json.servers.find((s: { name: string }) => s.name === c.name)
      // The stored password is the one used: the server is reachable (no literal "***" wins over it).
      expect(server, JSON.stringify(list.json)).toMatchObject({ reachable: true, passwordStored: true })
    }
    // A row stored before this fix, with a literal mask in its URL: the password kept apart wins, and the mask is not shown.
    await db.query(`update janua.servers set url = url || ' password=***' where name = 'kv'`)
    const legacy = await cli('server', 'list', '--check')
    expect(legacy.json.servers.find((s: { name: string }) => s.name === 'kv')).toMatchObject({ reachable: true, url: expect.not.stringContaining('password') })
    const humanList = await human('server', 'list')
    expect(humanList.stdout).toContain('qp_db')
    const stored = await db.query<{ url: string; password: string }>(`select url, password from janua.servers where name in ('qp', 'raw', 'kv')`)
    for (const row of stored.rows) expect(row.password).toMatch(/^aes-256-gcm:v1:/)
  })

  it('refuses a second name for a registered cluster and database, the primary included', async () => {
    const again = await cli('server', 'add', 'again', withDatabase(twoUrl, 'raw_db'))
    expect(again.code, again.stdout).toBe(2)
    expect(again.json.error.message).toMatch(/already registered as "raw"/)
    // A row from before identities were recorded is read on contact and filled in.
    await db.query(`update janua.servers set system_identifier = null, port = null, maintenance_database = null, server_version_num = null where name = 'two'`)
    const twice = await runCli(['server', 'add', 'twice', '--url-env', 'SAME_AS_TWO', '--json'], { env: { ...env(), SAME_AS_TWO: twoUrl } })
    expect(twice.code).toBe(2)
    expect(twice.json.error.message).toMatch(/already registered as "two"/)
    expect((await db.query(`select system_identifier, maintenance_database from janua.servers where name = 'two'`)).rows[0]).toMatchObject({
      system_identifier: expect.stringMatching(/^\d+$/),
      maintenance_database: 'postgres',
    })
    const primary = await cli('server', 'add', 'alias', db.url)
    expect(primary.code, primary.stdout).toBe(2)
    expect(primary.json.error.message).toMatch(/already registered as "primary"/)
    const names = (await db.query<{ name: string }>('select name from janua.servers order by name')).rows.map((r) => r.name)
    expect(names).toEqual(['kv', 'primary', 'qp', 'raw', 'two'])
  })

  it('sslmode=require against a server without TLS exits 5 with one clear line and no Node warning', async () => {
    const tls = await human('server', 'add', 'tls', `${withDatabase(twoUrl, 'kv_db')}?sslmode=require`)
    expect(tls.code, tls.stderr).toBe(5)
    expect(tls.stderr).toMatch(/^error .*does not accept TLS connections\nhint .*sslmode/)
    expect(tls.stderr).not.toMatch(/warning|NODE_TLS|trace-warnings/i)
    const json = await cli('server', 'add', 'tls', 'host=127.0.0.1 port=1 user=u sslmode=require')
    expect(json.code).toBe(5)
    expect(json.stderr).toBe('')
  })

  it("server remove refuses a second name of a cluster whose shared database holds the other name's tenants", async () => {
    const before = (await onTwo(`select datname from pg_database where datname like 'janua%' order by 1`)).rows
    const removal = await cli('server', 'remove', 'kv', '--yes')
    expect(removal.code, removal.stdout).toBe(2)
    expect(removal.json.error.message).toMatch(/placements of two/)
    expect(removal.json.error.message).toMatch(/tenant data \(schema tenant_t-schema/)
    expect((await onTwo(`select datname from pg_database where datname like 'janua%' order by 1`)).rows).toEqual(before)
    expect((await cli('tenant', 'inspect', 't-schema')).code).toBe(0)
  })

  it('server remove refuses while a tenant, a leftover, an unfinished move or tenant data is there; drops nothing; needs --yes', async () => {
    const cpId = (await db.query<{ value: string }>(`select value from janua.meta where key = 'id'`)).rows[0]!.value
    const shared = `janua_${cpId}__shared`
    const sharedExists = async () => (await db.queryIn('postgres', 'select 1 from pg_database where datname = $1', [shared])).rowCount === 1
    // A second name for the primary's cluster (another database of it): its shared database is janua_<cp>__shared there.
    const added = await cli('server', 'add', 'sc', withDatabase(adminUrl(), 'postgres'))
    expect(added.code, added.stdout).toBe(0)
    passwords.push(...[parseIntoClientConfig(adminUrl()).password].filter((p): p is string => typeof p === 'string' && p.length > 2))
    expect((await cli('tenant', 'create', 's-schema', '--isolation', 'schema', '--server', 'sc')).code).toBe(0)
    expect(await sharedExists()).toBe(true)
    const refuse = async (pattern: RegExp) => {
      const r = await cli('server', 'remove', 'sc', '--yes')
      expect(r.code, r.stdout).toBe(2)
      expect(r.json.error.message).toMatch(pattern)
      expect(await sharedExists()).toBe(true)
      expect((await db.query(`select 1 from janua.servers where name = 'sc'`)).rowCount).toBe(1)
    }
    await refuse(/holds tenants \(s-schema\)/)
    expect((await cli('tenant', 'drop', 's-schema', '--yes')).code).toBe(0)

    await db.query(`insert into janua.leftovers (kind, server, database, schema, what, tenant_slug) values ('move-target', 'sc', $1, 'tenant_gone', 'schema', 'gone')`, [shared])
    await refuse(/leftovers of moves \(schema .*tenant_gone of gone\)/)
    await db.query(`delete from janua.leftovers where server = 'sc'`)

    const plan = { plan: { from: { placement: { server: 'primary' } }, to: { placement: { server: 'sc', database: shared, schema: 'tenant_half' } } } }
    await db.query(`insert into janua.operations (kind, tenant_slug, status, step, detail) values ('tenant.move', 'half', 'running', 'fenced', $1)`, [JSON.stringify(plan)])
    await refuse(/unfinished move of tenant half/)
    await db.query(`update janua.operations set status = 'aborted' where tenant_slug = 'half'`)

    await db.queryIn(shared, 'create schema "tenant_ghost"')
    await refuse(/holds tenant data \(schema tenant_ghost\)/)
    await db.queryIn(shared, 'drop schema "tenant_ghost"')

    const unconfirmed = await cli('server', 'remove', 'sc')
    expect(unconfirmed.code).toBe(2)
    expect(unconfirmed.json.error.hint).toMatch(/--yes/)
    const removed = await cli('server', 'remove', 'sc', '--yes')
    expect(removed.code, removed.stdout).toBe(0)
    expect(removed.json.drop).toEqual([shared])
    expect(removed.json.notRemoved).toEqual([])
    expect(await sharedExists()).toBe(false)

    // A server janua cannot reach is unregistered; what it could not drop is reported with its repair.
    const scEnv = { ...env(), SC2_URL: withDatabase(adminUrl(), 'postgres') }
    expect((await runCli(['server', 'add', 'sc2', '--url-env', 'SC2_URL', '--json'], { env: scEnv })).code).toBe(0)
    const away = await runCli(['server', 'remove', 'sc2', '--yes', '--json'], { env: { ...scEnv, SC2_URL: undefined } })
    expect(away.code, away.stdout).toBe(0)
    expect(away.json.notRemoved).toEqual([
      expect.objectContaining({
        database: shared,
        error: expect.stringMatching(/SC2_URL/),
        finish: expect.stringContaining(`psql "$SC2_URL" -c 'DROP DATABASE IF EXISTS "${shared}" WITH (FORCE)'`),
      }),
    ])
    expect(away.json.keep).toEqual([expect.objectContaining({ database: `janua_${cpId}__template`, reason: expect.stringMatching(/primary/) })])
    expect((await db.query(`select 1 from janua.servers where name = 'sc2'`)).rowCount).toBe(0)
  })

  it('a URL without a host or user, or with several hosts, is bad input (exit 2, nothing registered)', async () => {
    for (const url of ['postgres://', 'postgres://127.0.0.1:5432/postgres', 'postgres://u:MhSECRET@h1,h2/db', 'host=127.0.0.1 pasword=TypoSECRET']) {
      const r = await cli('server', 'add', 'm1', url)
      expect(r.code, `${url}: ${r.stdout}`).toBe(2)
      expect(r.json.error.message).not.toMatch(/SECRET/)
    }
    expect((await db.query(`select 1 from janua.servers where name = 'm1'`)).rowCount).toBe(0)
  })

  it('a URL without a password takes it from the password file (PGPASSFILE), with no Node warning', async () => {
    await onTwo('create database pp_db')
    const passDir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-pgpass-'))
    const passfile = path.join(passDir, 'pgpass')
    fs.writeFileSync(passfile, `127.0.0.1:${new URL(twoUrl).port}:*:postgres:${twoPassword.replace(/[\\:]/g, '\\$&')}\n`, { mode: 0o600 })
    try {
      const ppEnv = { ...env(), PGPASSFILE: passfile, PGPASSWORD: undefined, JANUA_SECRET_KEY: undefined }
      const added = await runCli(['server', 'add', 'pp', withDatabase(twoUrl, 'pp_db').replace(/:[^:@/]*@/, '@'), '--json'], { env: ppEnv })
      expect(added.code, added.stdout + added.stderr).toBe(0)
      expect(added.json.passwordStored).toBe(false)
      expect(added.stderr).not.toMatch(/warning/i)
      const list = await runCli(['server', 'list', '--check', '--json'], { env: ppEnv })
      expect(list.json.servers.find((s: { name: string }) => s.name === 'pp')).toMatchObject({ reachable: true })
      expect(list.stderr).not.toMatch(/warning/i)
    } finally {
      fs.rmSync(passDir, { recursive: true, force: true })
    }
  })

  it('never shows a server password in any output of the suite, journal, audit log or servers column', async () => {
    const everything = allOutput.join('\n')
    expect(everything.length).toBeGreaterThan(1000)
    const primaryPassword = parseIntoClientConfig(db.url).password
    if (typeof primaryPassword === 'string' && primaryPassword.length > 2) passwords.push(primaryPassword)
    const tables = await Promise.all(
      ['janua.servers', 'janua.operations', 'janua.audit_log', 'janua.leftovers'].map(async (table) =>
        (await db.query(`select t::text as row from ${table} t`)).rows.map((r) => r.row as string).join('\n'),
      ),
    )
    expect(tables[0]).toContain('qp_db')
    expect(tables[2]).toContain('server add')
    for (const password of passwords.list) {
      for (const form of [password, encodeURIComponent(password)]) {
        expect(everything, `output holds a password`).not.toContain(form)
        for (const text of tables) expect(text, 'the control plane holds a password').not.toContain(form)
      }
    }
  })
})
