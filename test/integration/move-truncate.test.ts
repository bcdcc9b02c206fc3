import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { seedAsApp, snapshotTenant } from '../helpers/tenant-data.js'

/**
 * Trigger capture and TRUNCATE: a TRUNCATE fires no row trigger, so a statement trigger logs it and
 * the next round replaces all of the tenant's rows of that table at the target (never a TRUNCATE
 * there). A tenant table truncated after the copy: the move still ends with the target equal to the
 * source, and no capture trigger is left.
 */
describe('online move (trigger capture) of a tenant whose table is truncated during the move', () => {
  let db: TestDatabase
  const env = () => ({ DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: undefined })
  beforeAll(async () => {
    db = await freshDatabase('movetruncate')
  })
  afterAll(async () => {
    await db?.drop()
  })

  it('a TRUNCATE after the copy reaches the target as the removal of exactly the tenant rows it removed', async () => {
    expect((await runCli(['db', 'init', '--json'], { env: env() })).code).toBe(0)
    const created = await runCli(['tenant', 'create', 'trunc', '--isolation', 'schema', '--json'], { env: env() })
    expect(created.code, created.stderr).toBe(0)
    const placement = created.json.placement
    const id = created.json.id
    await seedAsApp(db.admin, placement, id, 2)
    const killed = await runCli(['tenant', 'move', 'trunc', '--to', 'database', '--capture', 'trigger', '--yes', '--json'], { env: { ...env(), JANUA_FAULT_KILL_AFTER: 'copied' } })
    expect(killed.code).not.toBe(0)
    const before = (await db.queryIn(placement.database, `select count(*)::int as n from "${placement.schema}".analytics_events`)).rows[0].n
    expect(before).toBeGreaterThan(0)
    await db.queryIn(placement.database, `truncate "${placement.schema}".analytics_events`)
    await db.queryIn(placement.database, `insert into "${placement.schema}".analytics_events (tenant_id, event_name, properties) values ($1, 'after-truncate', '{}')`, [id])
    const source = await snapshotTenant(db.admin, placement, id)
    const resumed = await runCli(['tenant', 'move', 'trunc', '--resume', '--yes', '--json'], { env: env() })
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0)
    const target = resumed.json.to.placement
    expect((await snapshotTenant(db.admin, target, id)).tables).toEqual(source.tables)
    expect((await db.queryIn(target.database, `select count(*)::int as n from "${target.schema}".analytics_events`)).rows[0].n).toBe(1)
    const triggers = await db.query(`select tgname from pg_trigger where tgname like 'janua\\_capture\\_%'`)
    expect(triggers.rows).toEqual([])
  })
})
