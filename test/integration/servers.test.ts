import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureEmbedded, stopEmbedded, readEmbeddedState } from '../../src/core/embedded.js'
import { allOutput, runCli } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { copyTemplates } from '../helpers/templates.js'
import { seedAsApp, snapshotTenant } from '../helpers/tenant-data.js'
import { parseIntoClientConfig } from 'pg-connection-string'

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
  const env = () => ({ DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: templates.dir, TWO_URL: twoUrl })
  const cli = (...args: string[]) => runCli([...args, '--json'], { env: env() })

  beforeAll(async () => {
    db = await freshDatabase('servers')
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-server-two-'))
    fs.chmodSync(dir, 0o755)
    twoUrl = (await ensureEmbedded(dir)).url
    twoPassword = readEmbeddedState(dir)!.password
  })
  afterAll(async () => {
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
    expect(verify.code, JSON.stringify(verify.json?.placements?.filter((p: { findings: unknown[] }) => p.findings.length), null, 1)).toBe(0)
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

  it('never shows a server password in any output of the suite', () => {
    const everything = allOutput.join('\n')
    expect(everything.length).toBeGreaterThan(1000)
    expect(everything).not.toContain(twoPassword)
    const primaryPassword = parseIntoClientConfig(db.url).password
    if (typeof primaryPassword === 'string' && primaryPassword.length > 2) expect(everything).not.toContain(primaryPassword)
  })
})
