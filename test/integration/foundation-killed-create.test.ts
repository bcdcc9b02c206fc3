import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { adminClient, controlPlaneId } from '../helpers/foundation.js'

const SLUG = 'k1'

/**
 * `tenant create --isolation database` killed with SIGKILL at various moments, then run again:
 * the re-run must succeed and leave exactly one database and one tenant row; nothing may be
 * left behind by the killed run.
 */
describe('a killed `tenant create --isolation database`', () => {
  let db: TestDatabase
  let watcher: pg.Client
  const env = () => ({ DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: undefined })
  const kills: { when: string; exited: number; leftStatus: string | null; leftDatabase: boolean }[] = []

  beforeAll(async () => {
    db = await freshDatabase('kill')
    watcher = await adminClient(db)
  })
  afterAll(async () => {
    await watcher?.end()
    await db?.drop()
  })

  const create = () => runCli(['tenant', 'create', SLUG, '--isolation', 'database', '--json'], { env: env() })

  async function statusOf(): Promise<string | null> {
    const { rows } = await watcher.query<{ status: string }>(`select status from janua.tenants where slug = $1`, [SLUG]).catch(() => ({ rows: [] as { status: string }[] }))
    return rows[0]?.status ?? null
  }

  async function databasesOf(cpId: string | undefined): Promise<string[]> {
    if (!cpId) return []
    const { rows } = await watcher.query<{ datname: string }>(`select datname from pg_database where datname = $1`, [`janua_${cpId}_${SLUG}`])
    return rows.map((r) => r.datname)
  }

  /** Spawns the create, calls killer(kill, finished) and returns the killed run's result. */
  async function createAndKill(when: string, killer: (kill: () => void, finished: () => boolean) => Promise<void>): Promise<CliResult> {
    // Start from no tenant (an earlier failed assertion may have left one).
    if ((await statusOf()) !== null) await runCli(['tenant', 'drop', SLUG, '--yes'], { env: env() })
    let finished = false
    let childPid: number | undefined
    const run = runCli(['tenant', 'create', SLUG, '--isolation', 'database', '--json'], {
      env: env(),
      onSpawn: (pid) => (childPid = pid),
    }).then((r) => {
      finished = true
      return r
    })
    const kill = () => {
      if (!finished && childPid) {
        try {
          process.kill(childPid, 'SIGKILL')
        } catch {
          /* already gone */
        }
      }
    }
    await killer(kill, () => finished)
    const result = await run
    const cpId = await controlPlaneId(db)
    kills.push({ when, exited: result.code, leftStatus: await statusOf(), leftDatabase: (await databasesOf(cpId)).length > 0 })
    return result
  }

  /** After a (possibly) killed run: finish the create, check the end state, drop the tenant. */
  async function rerunAndCheck(killed: CliResult, label: string): Promise<void> {
    const left = await statusOf()
    if (killed.code === 0) {
      // The run finished before the kill: it must have produced a proper tenant.
      expect(killed.json, label).toMatchObject({ slug: SLUG, status: 'active', version: 4 })
    } else if (left === 'active') {
      // Killed after the tenant became active (while finishing up): the create is done, and a
      // re-run says so.
      const again = await create()
      expect(again.code, `${label}: re-run of a create killed after it completed; ${again.stderr}${again.stdout}`).toBe(2)
      expect(again.json?.error?.message, label).toContain('already exists')
    } else {
      const again = await create()
      expect(again.code, `${label}: re-run exit code; stderr: ${again.stderr}; stdout: ${again.stdout}`).toBe(0)
      expect(again.json, label).toMatchObject({ slug: SLUG, status: 'active', isolation: 'database', version: 4 })
    }
    const cpId = await controlPlaneId(db)
    expect(cpId, label).toBeTruthy()
    expect(await databasesOf(cpId), label).toEqual([`janua_${cpId}_${SLUG}`])
    const tenants = await watcher.query(`select status, isolation from janua.tenants where slug = $1`, [SLUG])
    expect(tenants.rows, label).toEqual([{ status: 'active', isolation: 'database' }])
    const placements = await watcher.query(`select kind from janua.placements where database = $1`, [`janua_${cpId}_${SLUG}`])
    expect(placements.rows, label).toEqual([{ kind: 'database' }])
    expect((await watcher.query(`select 1 from pg_namespace where nspname = $1`, [`tenant_${SLUG}`])).rowCount, label).toBe(0)
    const running = await watcher.query(`select id, step from janua.operations where tenant_slug = $1 and status = 'running'`, [SLUG])
    // A kill that lands after the tenant became active but before its journal entry was closed
    // (two separate transactions in createTenant) leaves that entry 'running': a window of about
    // one round trip, which this test cannot aim at; elsewhere no entry may stay 'running'.
    if (!(killed.code !== 0 && left === 'active')) expect(running.rows, `${label}: journal entries left running`).toEqual([])
    // The tenant database works: seed roles are there.
    const roles = await db.queryIn(`janua_${cpId}_${SLUG}`, `select count(*)::int as n from tenant.roles`)
    expect(roles.rows[0].n, label).toBe(4)

    const drop = await runCli(['tenant', 'drop', SLUG, '--yes', '--json'], { env: env() })
    expect(drop.code, `${label}: drop; ${drop.stderr}${drop.stdout}`).toBe(0)
    expect(await databasesOf(cpId), label).toEqual([])
    expect((await watcher.query(`select 1 from janua.tenants where slug = $1`, [SLUG])).rowCount, label).toBe(0)
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

  /** Polls (every 2 ms) until cond holds or the run finished. */
  async function until(cond: () => Promise<boolean>, finished: () => boolean): Promise<boolean> {
    while (!finished()) {
      if (await cond()) return true
      await sleep(2)
    }
    return false
  }

  it('at fixed delays after spawn: the re-run succeeds and nothing is left over', async () => {
    for (const delay of [150, 400, 600, 800, 1000, 1300, 1600]) {
      const killed = await createAndKill(`after ${delay} ms`, async (kill) => {
        await sleep(delay)
        kill()
      })
      await rerunAndCheck(killed, `killed after ${delay} ms`)
    }
    // seven rounds of create, kill, re-run and drop (21 CLI processes): 25 s alone, over 120 s with
    // three other test files on a slow 2-core machine
  }, 360_000)

  it('while the tenant row is still provisioning', async () => {
    const killed = await createAndKill('on status provisioning', async (kill, finished) => {
      if (await until(async () => (await statusOf()) === 'provisioning', finished)) kill()
    })
    await rerunAndCheck(killed, 'killed while provisioning')
  })

  it('after its database was created, before the tenant became active', async () => {
    let tries = 0
    let caught = false
    // The window (restrict, seed, mark active) is short: try a few times until a kill lands in it.
    while (!caught && tries++ < 5) {
      const killed = await createAndKill('database exists, not active', async (kill, finished) => {
        const cpId = await controlPlaneId(db)
        const hit = await until(async () => (await databasesOf(cpId)).length > 0 && (await statusOf()) === 'provisioning', finished)
        if (hit) {
          kill()
          caught = true
        }
      })
      if (caught) expect(killed.code).not.toBe(0)
      await rerunAndCheck(killed, `killed with its database made (try ${tries})`)
    }
  })

  it('killed runs really were interrupted midway at least once, and no orphan database remains', async () => {
    // At least one kill left a 'provisioning' tenant row behind (i.e. it interrupted the create).
    expect(
      kills.some((k) => k.exited !== 0 && k.leftStatus === 'provisioning'),
      JSON.stringify(kills),
    ).toBe(true)
    const cpId = await controlPlaneId(db)
    const { rows } = await watcher.query(`select datname from pg_database where datname like $1`, [`janua\\_${cpId}\\_${SLUG}%`])
    expect(rows).toEqual([])
    expect((await watcher.query(`select 1 from janua.tenants`)).rowCount).toBe(0)
    expect((await watcher.query(`select 1 from janua.placements where kind <> 'shared'`)).rowCount).toBe(0)
  })
})
