import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { placementTables } from '../../src/catalog/tables.js'
import { applyPending } from '../../src/core/apply.js'
import { Janua } from '../../src/core/context.js'
import { createPlacementSchema, initDb } from '../../src/core/control-plane.js'
import { installFence } from '../../src/core/fence.js'
import { drivers, locateContext, stampOf, type IsolationDriver, type TenantRef } from '../../src/core/isolation/index.js'
import type { Placement } from '../../src/core/placement.js'
import { ident } from '../../src/sql/ident.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'

/**
 * The one contract every isolation driver keeps, run over the three of them: locate is pure;
 * build, seed, clear and retire do their job and can run again (after a kill, a re-run finishes
 * it); a placement already gone counts as retired.
 */
describe.each(Object.values(drivers).map((d) => [d.level, d] as const))('isolation driver: %s', (level, driver: IsolationDriver) => {
  let db: TestDatabase
  let janua: Janua
  const tenant = (slug: string): TenantRef => ({ id: randomUUID(), slug, name: slug })

  /** Rows of the tenant over every tenant table, and the fence triggers on them. */
  const tenantFacts = (placement: Placement, id: string) =>
    driver.connect(janua, placement, async (client) => {
      let rows = 0
      for (const t of (await placementTables(client, placement.schema)).filter((x) => x.hasTenantId)) {
        rows += Number((await client.query(`select count(*)::int as n from ${ident(placement.schema)}.${ident(t.name)} where tenant_id = $1`, [id])).rows[0].n)
      }
      const fences = Number(
        (
          await client.query(
            `select count(*)::int as n from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and t.tgname like 'janua_fence_%'`,
            [placement.schema],
          )
        ).rows[0].n,
      )
      return { rows, fences }
    })

  beforeAll(async () => {
    db = await freshDatabase(`drv_${level}`)
    janua = await Janua.open({ databaseUrl: db.url })
    await initDb(janua)
  })
  afterAll(async () => {
    await janua?.close()
    await db?.drop()
  })

  it('locate is pure: names only, the same every time, no connection', () => {
    const ctx = { cpId: 'abcd1234', primaryDatabase: 'app' }
    const a = driver.locate(ctx, 'acme', 'primary')
    expect(driver.locate(ctx, 'acme', 'primary')).toEqual(a)
    expect(a.server).toBe('primary')
    const elsewhere = driver.locate(ctx, 'acme', 'eu1')
    expect(elsewhere.server).toBe('eu1')
    expect(elsewhere.database).not.toBe('app')
    expect(driver.keptPlacement(ctx, a, 'acme', '20261130120000')).toEqual(driver.keptPlacement(ctx, a, 'acme', '20261130120000'))
  })

  it('builds, seeds, clears and retires; each changing method can run again', async () => {
    const t = tenant(`c-${level}`)
    const placement = driver.locate(locateContext(janua), t.slug, 'primary')
    if (!driver.sharesPlacement) expect(await driver.exists(janua, placement)).toBe(false)
    const version = await driver.build(janua, placement)
    expect(await driver.build(janua, placement)).toBe(version)
    expect(version).toBe(janua.templates.latest)
    expect(await driver.exists(janua, placement)).toBe(true)

    await driver.seed(janua, t, placement)
    expect((await tenantFacts(placement, t.id)).rows).toBeGreaterThan(0)
    await driver.connect(janua, placement, (c) => installFence(c, placement.schema, ['roles'], t))
    expect((await tenantFacts(placement, t.id)).fences).toBe(1)

    await driver.clear(janua, t, placement)
    await driver.clear(janua, t, placement)
    expect(await tenantFacts(placement, t.id)).toEqual({ rows: 0, fences: 0 })

    await driver.retire(janua, t, placement)
    await driver.retire(janua, t, placement)
    expect(await driver.exists(janua, placement)).toBe(driver.sharesPlacement)
  })

  it('builds with a seed in one go, to an older version when asked', async () => {
    const t = tenant(`v-${level}`)
    const placement = driver.locate(locateContext(janua), t.slug, 'primary')
    if (driver.sharesPlacement) {
      // An existing shared placement is never migrated by build: it stays at its version.
      expect(await driver.build(janua, placement, { toVersion: 2, seed: t })).toBe(janua.templates.latest)
    } else {
      expect(await driver.build(janua, placement, { toVersion: 2, seed: t })).toBe(2)
    }
    expect((await tenantFacts(placement, t.id)).rows).toBeGreaterThan(0)
    await driver.retire(janua, t, placement)
  })

  it('completes a placement a killed build left half made', async () => {
    if (driver.sharesPlacement) return // the shared placement is made by db init, in one transaction per file
    const t = tenant(`k-${level}`)
    const placement = driver.locate(locateContext(janua), t.slug, 'primary')
    // What a run killed after its first file leaves behind: the placement at version 1.
    if (driver.ownsDatabase) await db.query(`create database ${ident(placement.database)}`)
    await driver.connect(janua, placement, async (client) => {
      await createPlacementSchema(client, placement.schema, janua.appRole)
      await applyPending(client, placement.schema, janua.templates, { toVersion: 1, where: 'test' })
    })
    expect(await driver.build(janua, placement, { seed: t })).toBe(janua.templates.latest)
    expect((await tenantFacts(placement, t.id)).rows).toBeGreaterThan(0)
    await driver.retire(janua, t, placement)
  })

  it('keeps a retired placement when asked, where keptPlacement says; the kept one retires too', async () => {
    const t = tenant(`r-${level}`)
    const ctx = locateContext(janua)
    const placement = driver.locate(ctx, t.slug, 'primary')
    await driver.build(janua, placement, { seed: t })
    const kept = driver.keptPlacement(ctx, placement, t.slug, stampOf(new Date()))
    await driver.retire(janua, t, placement, { keep: kept })
    await driver.retire(janua, t, placement, { keep: kept })
    expect(await driver.exists(janua, kept)).toBe(true)
    expect((await tenantFacts(kept, t.id)).rows).toBeGreaterThan(0)
    if (!driver.sharesPlacement) expect(await driver.exists(janua, placement)).toBe(false)
    await driver.retire(janua, t, kept)
    if (!driver.sharesPlacement) expect(await driver.exists(janua, kept)).toBe(false)
    else expect((await tenantFacts(kept, t.id)).rows).toBe(0)
  })

  it('counts a placement whose database was dropped by hand as retired', async () => {
    if (!driver.ownsDatabase) return
    const t = tenant(`g-${level}`)
    const placement = driver.locate(locateContext(janua), t.slug, 'primary')
    await driver.build(janua, placement, { seed: t })
    await db.query(`drop database ${ident(placement.database)} with (force)`)
    await driver.retire(janua, t, placement)
    await driver.clear(janua, t, placement)
    expect(await driver.exists(janua, placement)).toBe(false)
  })
})
