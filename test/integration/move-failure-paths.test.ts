import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { parseIntoClientConfig } from 'pg-connection-string'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureEmbedded, readEmbeddedState, stopEmbedded } from '../../src/core/embedded.js'
import { runCli } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { appWrite, seedAsApp, snapshotTenant } from '../helpers/tenant-data.js'

/**
 * The failure paths of a move tell the truth and leave nothing unrecorded: an abort with the
 * target server down makes the source authoritative first; kept sources are reported and removed.
 */
describe('move failure paths', () => {
  let db: TestDatabase
  let dir: string
  let twoUrl: string
  const env = (extra: NodeJS.ProcessEnv = {}) => ({ DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: undefined, TWO_URL: twoUrl, ...extra })
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli([...args, '--json'], { env: env(extra) })
  const twoDatabases = async () => {
    const client = new pg.Client(parseIntoClientConfig(twoUrl))
    await client.connect()
    try {
      return (await client.query<{ datname: string }>(`select datname from pg_database where datname like 'janua\\_%'`)).rows.map((r) => r.datname).sort()
    } finally {
      await client.end()
    }
  }
  const fenceTriggers = async (schema: string) =>
    Number(
      (
        await db.query(
          `select count(*)::int as n from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and t.tgname like 'janua_fence_%'`,
          [schema],
        )
      ).rows[0].n,
    )

  beforeAll(async () => {
    db = await freshDatabase('movefail')
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-move-fail-two-'))
    fs.chmodSync(dir, 0o755)
    twoUrl = (await ensureEmbedded(dir)).url
    expect((await cli(['db', 'init'])).code).toBe(0)
    const added = await cli(['server', 'add', 'two', '--url-env', 'TWO_URL'])
    expect(added.code, added.stdout + added.stderr).toBe(0)
  })
  afterAll(async () => {
    // the test stopped this server itself; a second stop finding it down is no failure
    await stopEmbedded(dir).catch(() => undefined)
    const pgDir = readEmbeddedState(dir)?.pgDir
    if (pgDir && !pgDir.startsWith(dir)) fs.rmSync(pgDir, { recursive: true, force: true })
    fs.rmSync(dir, { recursive: true, force: true })
    await db?.drop()
  })

  it('a dry run to another server creates nothing there', async () => {
    const created = await cli(['tenant', 'create', 'dry', '--isolation', 'schema', '--server', 'primary'])
    expect(created.code).toBe(0)
    const before = await twoDatabases()
    for (const to of ['shared', 'schema', 'database']) {
      const plan = await cli(['tenant', 'move', 'dry', '--to', to, '--server', 'two', '--dry-run'])
      expect(plan.code, plan.stdout + plan.stderr).toBe(0)
      expect(plan.json.dryRun).toBe(true)
      expect(plan.json.to.placement.server).toBe('two')
    }
    expect(await twoDatabases()).toEqual(before)
  })

  it('--abort with the target server down: the source is authoritative at once; the target is listed and cleaned up once the server is back', async () => {
    const created = (await cli(['tenant', 'create', 'stranded', '--isolation', 'schema', '--server', 'primary'])).json
    await seedAsApp(db.admin, created.placement, created.id, 1)
    const before = await snapshotTenant(db.admin, created.placement, created.id)

    // Killed right after the fence: the target database on two exists, the tenant is fenced.
    const killed = await cli(['tenant', 'move', 'stranded', '--to', 'database', '--server', 'two', '--yes'], { JANUA_FAULT_KILL_AFTER: 'fenced' })
    expect(killed.code).not.toBe(0)
    const target = (await cli(['tenant', 'inspect', 'stranded'])).json.move.to.placement
    expect(await twoDatabases()).toContain(target.database)
    expect(await appWrite(db.admin, created.placement, created.id)).toBe('55000')

    await stopEmbedded(dir)
    try {
      const abort = await cli(['tenant', 'move', 'stranded', '--abort', '--yes'])
      expect(abort.code, abort.stdout + abort.stderr).toBe(0)
      expect(abort.json.aborted).toBe(true)
      expect(abort.json.leftovers).toHaveLength(1)
      expect(abort.json.leftovers[0]).toMatchObject({ kind: 'move-target', what: 'database', placement: { server: 'two', database: target.database } })
      expect(abort.json.leftovers[0].error).toMatch(/unreachable|refused/i)

      // The source is authoritative again: active, unfenced, the app's writes succeed at once.
      const inspect = (await cli(['tenant', 'inspect', 'stranded'])).json
      expect(inspect.status).toBe('active')
      expect(inspect.placement).toEqual(created.placement)
      expect(await appWrite(db.admin, created.placement, created.id)).toBe('ok')
      expect(await fenceTriggers(created.placement.schema)).toBe(0)
      expect(inspect.leftovers).toHaveLength(1)
      const status = (await cli(['db', 'status'])).json
      expect(status.leftovers.map((l: { tenantSlug: string }) => l.tenantSlug)).toEqual(['stranded'])

      // Cleanup while the server is still down: exit 1, naming the leftover and the re-run.
      const early = await runCli(['tenant', 'cleanup', 'stranded'], { env: env() })
      expect(early.code).toBe(1)
      expect(early.stderr).toMatch(/once two is reachable, run again: janua tenant cleanup stranded/)
    } finally {
      await ensureEmbedded(dir)
    }
    const verify = await cli(['db', 'verify'])
    expect(verify.code).toBe(3)
    const leftoverFindings = verify.json.placements.flatMap((p: { findings: { code: string }[] }) => p.findings).filter((f: { code: string }) => f.code === 'fleet/move-leftover')
    expect(leftoverFindings).toHaveLength(1)
    expect(verify.json.placements.flatMap((p: { findings: { code: string }[] }) => p.findings).filter((f: { code: string }) => f.code === 'fleet/orphan')).toEqual([])

    const cleanup = await cli(['tenant', 'cleanup', 'stranded'])
    expect(cleanup.code, cleanup.stdout + cleanup.stderr).toBe(0)
    expect(cleanup.json.removed).toHaveLength(1)
    expect(await twoDatabases()).not.toContain(target.database)
    expect((await cli(['tenant', 'inspect', 'stranded'])).json.leftovers).toEqual([])
    expect((await cli(['db', 'verify'])).code).toBe(0)
    const { users: _users, ...rest } = (await snapshotTenant(db.admin, created.placement, created.id)).tables
    const { users: _before, ...restBefore } = before.tables
    expect(rest).toEqual(restBefore)
  })

  it('--keep-source from shared: the kept rows and fence are reported by verify, and tenant drop removes them', async () => {
    const created = (await cli(['tenant', 'create', 'keeper', '--isolation', 'shared', '--server', 'primary'])).json
    await seedAsApp(db.admin, created.placement, created.id, 1)
    const moved = await cli(['tenant', 'move', 'keeper', '--to', 'schema', '--keep-source', '--yes'])
    expect(moved.code, moved.stdout + moved.stderr).toBe(0)
    expect(moved.json.keptAs).toEqual(created.placement)
    const kept = await snapshotTenant(db.admin, created.placement, created.id)
    expect(Number(kept.tables.users!.split(':')[0])).toBeGreaterThan(0)
    expect(await fenceTriggers('janua_shared')).toBeGreaterThan(0)

    const verify = await cli(['db', 'verify'])
    expect(verify.code).toBe(3)
    const findings = verify.json.placements.flatMap((p: { findings: { code: string }[] }) => p.findings)
    expect(findings.map((f: { code: string }) => f.code)).toEqual(['fleet/kept-source'])
    expect((await cli(['tenant', 'inspect', 'keeper'])).json.leftovers).toHaveLength(1)

    // A move back into the placement that still holds the kept rows is refused, pointing to cleanup.
    const back = await cli(['tenant', 'move', 'keeper', '--to', 'shared', '--yes'])
    expect(back.code).toBe(2)
    expect(back.json.error.hint).toMatch(/janua tenant cleanup keeper/)

    const dropped = await cli(['tenant', 'drop', 'keeper', '--yes'])
    expect(dropped.code, dropped.stdout + dropped.stderr).toBe(0)
    expect(dropped.json.leftovers).toEqual([])
    const after = await snapshotTenant(db.admin, created.placement, created.id)
    expect(Object.values(after.tables).every((v) => v.startsWith('0:'))).toBe(true)
    expect(await fenceTriggers('janua_shared')).toBe(0)
    expect((await cli(['db', 'verify'])).code).toBe(0)
  })

  it('--keep-source from a database: the renamed database is not an orphan, and cleanup removes it', async () => {
    const created = (await cli(['tenant', 'create', 'dbkeep', '--isolation', 'database', '--server', 'primary'])).json
    const moved = await cli(['tenant', 'move', 'dbkeep', '--to', 'schema', '--keep-source', '--yes'])
    expect(moved.code, moved.stdout + moved.stderr).toBe(0)
    const keptDb = moved.json.keptAs.database
    expect((await db.query('select 1 from pg_database where datname = $1', [keptDb])).rowCount).toBe(1)
    expect((await db.query('select 1 from pg_database where datname = $1', [created.placement.database])).rowCount).toBe(0)
    const codes = (await cli(['db', 'verify'])).json.placements.flatMap((p: { findings: { code: string }[] }) => p.findings.map((f) => f.code))
    expect(codes).toEqual(['fleet/kept-source'])
    const cleanup = await cli(['tenant', 'cleanup', 'dbkeep'])
    expect(cleanup.code, cleanup.stdout + cleanup.stderr).toBe(0)
    expect((await db.query('select 1 from pg_database where datname = $1', [keptDb])).rowCount).toBe(0)
    expect((await cli(['db', 'verify'])).code).toBe(0)
  })

  it('after a move out of shared, stale writes of the tenant into the shared tables are refused (a tombstone) until it comes back', async () => {
    const created = (await cli(['tenant', 'create', 'roamer', '--isolation', 'shared', '--server', 'primary'])).json
    const other = (await cli(['tenant', 'create', 'stayer', '--isolation', 'shared', '--server', 'primary'])).json
    const away = await cli(['tenant', 'move', 'roamer', '--to', 'schema', '--yes'])
    expect(away.code, away.stdout + away.stderr).toBe(0)
    // A stale routing cache writes into the old shared placement: refused, saying where the tenant went.
    expect(await appWrite(db.admin, created.placement, created.id)).toBe('55000')
    expect(await appWrite(db.admin, other.placement, other.id)).toBe('ok')
    expect(await appWrite(db.admin, away.json.to.placement, created.id)).toBe('ok')
    const back = await cli(['tenant', 'move', 'roamer', '--to', 'shared', '--yes'])
    expect(back.code, back.stdout + back.stderr).toBe(0)
    expect(await appWrite(db.admin, created.placement, created.id)).toBe('ok')
    expect((await cli(['db', 'verify'])).code).toBe(0)
    // Dropped: nothing of it is left in janua_guard.
    await cli(['tenant', 'move', 'roamer', '--to', 'database', '--yes'])
    expect((await db.query('select count(*)::int as n from janua_guard.moved_tenants where tenant_id = $1', [created.id])).rows[0].n).toBe(1)
    expect((await cli(['tenant', 'drop', 'roamer', '--yes'])).code).toBe(0)
    expect((await db.query('select count(*)::int as n from janua_guard.moved_tenants where tenant_id = $1', [created.id])).rows[0].n).toBe(0)
  })

  it('drops a tenant whose database was dropped by hand', async () => {
    const created = (await cli(['tenant', 'create', 'gone', '--isolation', 'database', '--server', 'primary'])).json
    await db.query(`drop database "${created.placement.database}" with (force)`)
    const dropped = await cli(['tenant', 'drop', 'gone', '--yes'])
    expect(dropped.code, dropped.stdout + dropped.stderr).toBe(0)
    expect((await cli(['tenant', 'inspect', 'gone'])).code).toBe(2)
  })
})
