import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CREATE_STEPS } from '../../src/core/fault.js'
import { MOVE_STEPS } from '../../src/core/move/move.js'
import { runCli, type CliResult } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { adminClient, controlPlaneId } from '../helpers/foundation.js'
import { seedAsApp, snapshotTenant, tenantRowCount } from '../helpers/tenant-data.js'
import { KILLED_IN_MOVE_TEST } from '../helpers/kill-points.js'
import { lingeringHolder, WAITING, whileTenantLocked } from '../helpers/lingering-lock.js'

describe('locks held by a dead run are waited out', () => {
  let db: TestDatabase
  let watcher: pg.Client
  let cpId: string
  const env = (extra: NodeJS.ProcessEnv = {}) => ({ DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: undefined, ...extra })
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(args, { env: env(extra) })

  beforeAll(async () => {
    db = await freshDatabase('locks')
    expect((await cli(['db', 'init'])).code).toBe(0)
    watcher = await adminClient(db)
    cpId = (await controlPlaneId(db))!
  })
  afterAll(async () => {
    await watcher?.end()
    await db?.drop()
  })

  /** Databases of this control plane other than its template: tenant databases and leftovers. */
  async function tenantDatabases(): Promise<string[]> {
    const { rows } = await watcher.query<{ datname: string }>(`select datname from pg_database where datname like $1 and datname <> $2 order by 1`, [
      `janua\\_${cpId}\\_%`,
      `janua_${cpId}__template`,
    ])
    return rows.map((r) => r.datname)
  }

  const timed = async <T>(fn: () => Promise<T>) => {
    const t0 = Date.now()
    const value = await fn()
    return { value, ms: Date.now() - t0 }
  }

  const rerunWhileLocked = (slug: string, args: string[]): Promise<CliResult> => whileTenantLocked(db, slug, () => cli(args))

  it.each(CREATE_STEPS)('tenant create --isolation database killed after %s: the re-run at once waits, completes it, and nothing is left over', async (step) => {
    const slug = `c-${step}`
    const killed = await cli(['tenant', 'create', slug, '--isolation', 'database', '--json'], { JANUA_FAULT_KILL_AFTER: step })
    expect(killed.code, `${step}: ${killed.stdout}${killed.stderr}`).toBe(128)
    const again = await rerunWhileLocked(slug, ['tenant', 'create', slug, '--isolation', 'database'])
    expect(again.stderr, step).toMatch(WAITING)
    if (step === 'activated') {
      // Killed after the create was complete: the re-run finds the tenant made, and says so.
      expect(again.code, again.stderr).toBe(2)
      expect(again.stderr).toContain('already exists')
    } else {
      expect(again.code, `${step}: ${again.stderr}`).toBe(0)
    }
    const tenants = await watcher.query(`select t.status, t.isolation, p.database from janua.tenants t join janua.placements p on p.id = t.placement_id where t.slug = $1`, [slug])
    expect(tenants.rows, step).toEqual([{ status: 'active', isolation: 'database', database: `janua_${cpId}_${slug}` }])
    expect(await tenantDatabases(), step).toEqual([`janua_${cpId}_${slug}`])
    expect((await watcher.query(`select 1 from janua.placements where database = $1`, [`janua_${cpId}_${slug}`])).rowCount, step).toBe(1)
    expect((await watcher.query(`select id from janua.operations where tenant_slug = $1 and status = 'running'`, [slug])).rows, step).toEqual([])
    expect((await db.queryIn(`janua_${cpId}_${slug}`, 'select count(*)::int as n from tenant.roles')).rows[0].n, step).toBe(4)

    const drop = await cli(['tenant', 'drop', slug, '--yes', '--json'])
    expect(drop.code, drop.stdout).toBe(0)
    expect(await tenantDatabases()).toEqual([])
    expect((await watcher.query(`select 1 from janua.placements where kind <> 'shared'`)).rowCount).toBe(0)
  })

  const pastSwitch = (step: string) => MOVE_STEPS.indexOf(step as (typeof MOVE_STEPS)[number]) >= MOVE_STEPS.indexOf('switched')

  // The other steps are killed in move.test.ts, whose re-runs also run at once under a lingering lock.
  it.each(
    MOVE_STEPS.filter((step) => !KILLED_IN_MOVE_TEST.includes(step)).flatMap((step) =>
      pastSwitch(step)
        ? [[step, '--resume']]
        : [
            [step, '--resume'],
            [step, '--abort'],
          ],
    ),
  )('tenant move killed after %s, then %s at once: it waits for the lock and finishes, every row once, no orphan', async (step, finish) => {
    const slug = `m-${step}-${finish.slice(2, 4)}`
    const created = await cli(['tenant', 'create', slug, '--isolation', 'shared', '--json'])
    expect(created.code, created.stdout).toBe(0)
    const tenant = created.json
    await seedAsApp(db.admin, tenant.placement, tenant.id, 1)
    const before = await snapshotTenant(db.admin, tenant.placement, tenant.id)

    const killed = await cli(['tenant', 'move', slug, '--to', 'database', '--yes', '--json'], { JANUA_FAULT_KILL_AFTER: step })
    expect(killed.code, `${step}: ${killed.stdout}${killed.stderr}`).toBe(128)
    const run = await rerunWhileLocked(slug, ['tenant', 'move', slug, finish, '--yes'])
    expect(run.stderr, `${step} ${finish}`).toMatch(WAITING)
    if (step === 'done') {
      // The move had finished: nothing is left to resume.
      expect(run.code, run.stderr).toBe(2)
      expect(run.stderr).toContain('has no unfinished move')
    } else {
      expect(run.code, `${step} ${finish}: ${run.stderr}`).toBe(0)
    }

    const row = (
      await watcher.query(`select t.status, t.isolation, p.database, p.schema from janua.tenants t join janua.placements p on p.id = t.placement_id where t.slug = $1`, [slug])
    ).rows[0]
    const aborted = finish === '--abort'
    expect(row, `${step} ${finish}`).toMatchObject({ status: 'active', isolation: aborted ? 'shared' : 'database' })
    expect((await snapshotTenant(db.admin, row, tenant.id)).tables, `${step} ${finish}`).toEqual(before.tables)
    expect(await tenantDatabases(), `${step} ${finish}`).toEqual(aborted ? [] : [`janua_${cpId}_${slug}`])
    if (!aborted) expect(await tenantRowCount(db.admin, tenant.placement, tenant.id)).toBe(0)
    expect((await watcher.query(`select id from janua.operations where tenant_slug = $1 and status = 'running'`, [slug])).rows).toEqual([])
    expect((await watcher.query(`select count(*)::int as n from janua.placements where kind = 'database'`)).rows[0].n).toBe(aborted ? 0 : 1)

    expect((await cli(['tenant', 'drop', slug, '--yes'])).code).toBe(0)
    expect(await tenantDatabases()).toEqual([])
  })

  it('a lock held longer than --lock-timeout: exit 4 after that long, with the line saying what it waited for; nothing created', async () => {
    const holder = new pg.Client({ ...db.admin, database: db.name })
    await holder.connect()
    await holder.query(`select pg_advisory_lock(hashtextextended('janua:tenant:held', 0))`)
    try {
      const { value: run, ms } = await timed(() => cli(['tenant', 'create', 'held', '--isolation', 'schema', '--lock-timeout', '1s']))
      expect(run.code, run.stderr).toBe(4)
      expect(run.stderr).toMatch(/^waiting up to 1 s for tenant "held", locked by another janua run/m)
      expect(run.stderr).toContain('tenant "held" is locked by another janua run (still held after 1 s)')
      expect(run.stderr).toContain('--lock-timeout')
      expect(ms).toBeGreaterThanOrEqual(1000)
      // well under the 30 s default a dropped flag would wait; the CLI's start-up counts in (5.5 s in
      // a whole-suite run on a loaded 2-core machine)
      expect(ms).toBeLessThan(15_000)

      // --json: one document on stdout, no progress line
      const json = await cli(['tenant', 'create', 'held', '--lock-timeout', '500ms', '--json'])
      expect(json.code).toBe(4)
      expect(json.json.error).toMatchObject({ code: 'locked', exitCode: 4 })
      expect(json.stderr).not.toMatch(/waiting/)

      // --lock-timeout 0 keeps the old fail-fast: no wait, no line
      const fastCreate = await timed(() => cli(['tenant', 'create', 'held', '--lock-timeout', '0']))
      expect(fastCreate.value.code, fastCreate.value.stderr).toBe(4)
      expect(fastCreate.value.stderr).not.toMatch(/waiting/)
      expect((await watcher.query(`select 1 from janua.tenants where slug = 'held'`)).rowCount).toBe(0)
      expect((await watcher.query(`select 1 from pg_namespace where nspname = 'tenant_held'`)).rowCount).toBe(0)
    } finally {
      await holder.end()
    }
  })

  it('waits for the template database lock too, and says so', async () => {
    const holder = await lingeringHolder(db, 'janua:template-database:primary')
    const [run] = await Promise.all([cli(['tenant', 'create', 'tpl', '--isolation', 'database']), holder.released])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toMatch(/^waiting up to 30 s for the template database of server primary, locked by another janua run/m)
    expect((await cli(['tenant', 'drop', 'tpl', '--yes'])).code).toBe(0)
  })

  it('a bad --lock-timeout is exit 2 with one line and a hint, before anything is created', async () => {
    for (const value of ['-1', '25h', '99999999999', 'soon', '1e3']) {
      const run = await cli(['tenant', 'create', 'bad', `--lock-timeout=${value}`])
      expect(run.code, `${value}: ${run.stderr}`).toBe(2)
      const lines = run.stderr.trim().split('\n')
      expect(lines[0], value).toMatch(/^error invalid --lock-timeout/)
      expect(
        lines.slice(1).every((l) => l.startsWith('hint')),
        value,
      ).toBe(true)
      expect(run.stderr, value).not.toMatch(/lock_timeout|\bat\s+\S+:\d+/)
    }
    expect((await watcher.query(`select 1 from janua.tenants where slug = 'bad'`)).rowCount).toBe(0)
    const ok = await cli(['tenant', 'create', 'good', '--lock-timeout', '2m', '--json'])
    expect(ok.code, ok.stdout).toBe(0)
    expect((await cli(['tenant', 'drop', 'good', '--yes', '--lock-timeout', '1500'])).code).toBe(0)
  })
})
