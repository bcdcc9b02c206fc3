import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { initDb } from '../../src/core/control-plane.js'
import { createTenant } from '../../src/core/tenants.js'
import { verifyFleet, type VerifyReport } from '../../src/core/verify.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'

const TEMPLATES = path.resolve('test/fixtures/templates-every-kind')

/**
 * Kept fingerprints (src/core/fingerprint-cache.ts) are only used while their database's catalog
 * is unchanged: a change that touches no catalog row of the tenant's own schema (a role renamed,
 * an extension's type renamed) is still found, and a run with kept fingerprints reports exactly
 * what a cold run reports.
 */
describe('db verify keeps fingerprints only while the catalog is unchanged', () => {
  let db: TestDatabase
  let janua: Janua
  let cpId: string

  beforeAll(async () => {
    db = await freshDatabase('verify_cache')
    janua = await Janua.open({ databaseUrl: db.url, templates: TEMPLATES })
    cpId = (await initDb(janua)).controlPlane.id
    // More schemas in the primary database than verify reads without the cache (8).
    for (const spec of [
      { slug: 'cache-schema', isolation: 'schema' },
      { slug: 'cache-other', isolation: 'schema' },
      ...Array.from({ length: 7 }, (_, i) => ({ slug: `cache-fill-${i + 1}`, isolation: 'schema' })),
      { slug: 'cache-database', isolation: 'database' },
    ])
      await createTenant(janua, spec)
  }, 240_000)
  afterAll(async () => {
    await janua?.close()
    await db?.drop()
  })

  /** What a verify says, without timings: placements, fingerprints and findings. */
  const said = (r: VerifyReport) =>
    r.placements
      .map((p) => ({ placement: p.placement, fingerprint: p.fingerprint, findings: p.findings.map((f) => `${f.code} ${f.object} ${f.actual ?? ''}`).sort() }))
      .sort((a, b) => JSON.stringify(a.placement).localeCompare(JSON.stringify(b.placement)))
  /** A verify with kept fingerprints, and one after forgetting them all: they must agree. */
  const warmAndCold = async () => {
    const warm = await verifyFleet(janua)
    await db.query('delete from janua.schema_fingerprints')
    const cold = await verifyFleet(janua)
    expect(cold.summary.phases.fingerprintsKept).toBe(0)
    expect(said(warm)).toEqual(said(cold))
    return warm
  }
  const findingsOf = (report: VerifyReport, slug: string) => report.placements.filter((p) => p.tenants.includes(slug)).flatMap((p) => p.findings)

  it('a second run keeps every fingerprint and says the same', async () => {
    const first = await verifyFleet(janua)
    expect(first.ok, JSON.stringify(first.placements.flatMap((p) => p.findings))).toBe(true)
    const inPrimary = first.placements.filter((p) => p.placement.database === db.name && p.fingerprint !== null).length
    expect(inPrimary).toBeGreaterThan(8)
    const second = await verifyFleet(janua)
    expect(second.summary.phases.fingerprintsKept).toBe(inPrimary)
    expect(said(second)).toEqual(said(first))
    // --tenant reads its few schemas directly (cheaper than the catalog token of a large database)
    const one = await verifyFleet(janua, { tenants: ['cache-schema'] })
    expect(one.summary.phases.fingerprintsKept).toBe(0)
    expect(one.ok).toBe(true)
  })

  it('a role renamed after its grant was found: the finding names the new name', async () => {
    const role = `janua_${cpId}_cache_reader`
    await db.query(`create role "${role}"`)
    try {
      await db.query(`grant select on "tenant_cache-schema".films to "${role}"`)
      const granted = await warmAndCold()
      expect(findingsOf(granted, 'cache-schema').some((f) => f.code === 'drift/grant' && f.object.includes(role))).toBe(true)
      await verifyFleet(janua) // keeps the fingerprints with the grant
      await db.query(`alter role "${role}" rename to "${role}_renamed"`)
      const renamed = await verifyFleet(janua)
      expect(renamed.summary.phases.fingerprintsKept).toBe(0)
      const grants = findingsOf(renamed, 'cache-schema').filter((f) => f.code === 'drift/grant')
      expect(grants.map((f) => f.object).join(' ')).toContain(`${role}_renamed`)
      expect(grants.some((f) => f.object.endsWith(`to ${role}`))).toBe(false)
      await db.query(`revoke all on "tenant_cache-schema".films from "${role}_renamed"`)
      expect((await warmAndCold()).ok).toBe(true)
    } finally {
      // roles belong to the server, not to the test's database: a failed expectation above must not leave one
      const { rows } = await db.query<{ rolname: string }>('select rolname from pg_roles where rolname = any($1::text[])', [[role, `${role}_renamed`]])
      for (const { rolname } of rows) {
        await db.query(`revoke all on all tables in schema "tenant_cache-schema" from "${rolname}"`)
        await db.query(`drop role "${rolname}"`)
      }
    }
  })

  it("an extension's type renamed (no row of the tenants' schemas changes): their columns drift, found after a kept run", async () => {
    expect((await verifyFleet(janua)).ok).toBe(true)
    const kept = await verifyFleet(janua)
    expect(kept.summary.phases.fingerprintsKept).toBeGreaterThan(8)
    await db.query('alter type extensions.citext rename to citext_renamed')
    try {
      const report = await warmAndCold()
      for (const slug of ['cache-schema', 'cache-other']) {
        const found = findingsOf(report, slug)
        expect(
          found.some((f) => f.code === 'drift/column' && /films\.title/.test(f.object)),
          `${slug}: ${JSON.stringify(found, null, 1)}`,
        ).toBe(true)
      }
      expect(findingsOf(report, 'cache-database')).toEqual([])
    } finally {
      await db.query('alter type extensions.citext_renamed rename to citext')
    }
    expect((await warmAndCold()).ok).toBe(true)
  })

  it("a drift in another tenant's schema of the same database is found; the neighbour stays clean", async () => {
    await verifyFleet(janua)
    await db.query(`comment on column "tenant_cache-other".films.title is 'by hand'`)
    const report = await warmAndCold()
    expect(findingsOf(report, 'cache-other').map((f) => f.code)).toContain('drift/comment')
    expect(findingsOf(report, 'cache-schema')).toEqual([])
  })

  it('an unfiltered run forgets the fingerprints of schemas that are no placement any more', async () => {
    await db.query(`insert into janua.schema_fingerprints (server, database, schema, token, fingerprint) values ('primary', 'gone', 'tenant_gone', 'x', 'y')`)
    await verifyFleet(janua)
    expect((await db.query(`select count(*)::int as n from janua.schema_fingerprints where database = 'gone'`)).rows[0].n).toBe(0)
  })
})
