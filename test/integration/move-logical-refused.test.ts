import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'

// The moves with logical capture are in move-logical.test.ts, on a server of that file's own
// (wal_level = logical): the same on every run, so CI's second run (another server) leaves it out.
/** The suite's own server (wal_level = replica): auto picks trigger there, a forced logical is refused. */
describe('logical capture on a server without wal_level = logical', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await freshDatabase('movelogicalreplica')
  })
  afterAll(async () => {
    await db?.drop()
  })
  it('auto plans trigger capture saying why; --capture logical exits 2 with the reason and leaves nothing', async () => {
    const env = { DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: undefined }
    const wal = (await db.query<{ w: string }>(`select current_setting('wal_level') as w`)).rows[0]!.w
    expect((await runCli(['db', 'init', '--json'], { env })).code).toBe(0)
    expect((await runCli(['tenant', 'create', 'r1', '--isolation', 'schema', '--json'], { env })).code).toBe(0)
    const plan = await runCli(['tenant', 'move', 'r1', '--to', 'database', '--dry-run', '--json'], { env })
    expect(plan.code, plan.stderr).toBe(0)
    if (wal === 'logical') return // a suite server run with logical decoding: nothing to refuse here
    expect(plan.json.plan.capture.mode).toBe('trigger')
    expect(plan.json.plan.capture.reason).toMatch(/wal_level = replica/)
    const forced = await runCli(['tenant', 'move', 'r1', '--to', 'database', '--capture', 'logical', '--yes', '--json'], { env })
    expect(forced.code).toBe(2)
    expect(forced.json.error.message).toMatch(/--capture logical is not possible here: the source server has wal_level = replica/)
    expect((await db.query(`select count(*)::int as n from janua.operations where kind = 'tenant.move'`)).rows[0].n).toBe(0)
  })
})
