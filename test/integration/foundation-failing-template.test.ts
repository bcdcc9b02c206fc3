import fs from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { initDb } from '../../src/core/control-plane.js'
import { JanuaError } from '../../src/core/errors.js'
import { createTenant, listTenants } from '../../src/core/tenants.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { controlPlaneId, defaultTemplates, templateFolder } from '../helpers/foundation.js'

// Line 3, column 15 is where "no_such_table" starts.
const BROKEN = ['-- 0005: a file that fails on line 3', 'create table widgets (tenant_id uuid not null, id int);', 'select * from no_such_table;', ''].join('\n')

describe('a template that fails while a tenant is created', () => {
  let db: TestDatabase
  let good: Janua
  let broken: Janua
  let brokenDir: string
  let cpId: string

  beforeAll(async () => {
    db = await freshDatabase('fail')
    // The control plane and the shared placement come from the good folder...
    good = await Janua.open({ databaseUrl: db.url })
    await initDb(good)
    cpId = (await controlPlaneId(db))!
    // ... tenants are then created with a folder that adds a failing 0005.
    brokenDir = templateFolder({ '0005_broken.sql': BROKEN }, defaultTemplates)
    broken = await Janua.open({ databaseUrl: db.url, templates: brokenDir })
  })
  afterAll(async () => {
    await good?.close()
    await broken?.close()
    await db?.drop()
    if (brokenDir) fs.rmSync(brokenDir, { recursive: true, force: true })
  })

  async function failure(slug: string, isolation: string): Promise<JanuaError> {
    let caught: unknown
    try {
      await createTenant(broken, { slug, isolation })
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(JanuaError)
    return caught as JanuaError
  }

  it('schema: the error names 0005_broken.sql:3:, and no schema or tenant row is left', async () => {
    const error = await failure('broken-schema', 'schema')
    expect(error.exitCode).toBe(1)
    expect(error.message).toContain('0005_broken.sql:3:15')
    expect(error.message).toContain('no_such_table')
    expect(error.details).toMatchObject({ file: '0005_broken.sql', line: 3, column: 15 })
    expect((await db.query(`select 1 from pg_namespace where nspname = 'tenant_broken-schema'`)).rowCount).toBe(0)
    expect((await db.query(`select 1 from janua.tenants where slug = 'broken-schema'`)).rowCount).toBe(0)
    expect((await db.query(`select 1 from janua.placements where schema = 'tenant_broken-schema'`)).rowCount).toBe(0)
    const ops = await db.query<{ status: string; error: string }>(`select status, error from janua.operations where tenant_slug = 'broken-schema'`)
    expect(ops.rows.map((r) => r.status)).toEqual(['failed'])
    expect(ops.rows[0]!.error).toContain('0005_broken.sql:3:')
  })

  it('database: the error names 0005_broken.sql:3:, and no database or tenant row is left', async () => {
    const error = await failure('broken-db', 'database')
    expect(error.exitCode).toBe(1)
    expect(error.message).toContain('0005_broken.sql:3:15')
    const left = await db.query(`select datname from pg_database where datname like $1`, [`janua\\_${cpId}\\_broken-db%`])
    expect(left.rows).toEqual([])
    expect((await db.query(`select 1 from janua.tenants where slug = 'broken-db'`)).rowCount).toBe(0)
    expect((await db.query(`select 1 from janua.placements where database = $1`, [`janua_${cpId}_broken-db`])).rowCount).toBe(0)
  })

  it('a failing seed file is reported with its name and line, and leaves nothing either', async () => {
    const seedDir = templateFolder(
      { 'seed/0002_bad_seed.sql': "-- a seed\n\ninsert into roles (tenant_id, name) values (current_setting('janua.tenant_id')::uuid, null);\n" },
      defaultTemplates,
    )
    const withSeed = await Janua.open({ databaseUrl: db.url, templates: seedDir })
    try {
      for (const isolation of ['shared', 'schema', 'database']) {
        const slug = `bad-seed-${isolation}`
        await expect(createTenant(withSeed, { slug, isolation })).rejects.toSatisfy((e: unknown) => e instanceof JanuaError && e.message.includes('0002_bad_seed.sql'))
        expect((await db.query(`select 1 from janua.tenants where slug = $1`, [slug])).rowCount, slug).toBe(0)
      }
      expect((await db.query(`select 1 from pg_namespace where nspname = 'tenant_bad-seed-schema'`)).rowCount).toBe(0)
      expect((await db.query(`select 1 from pg_database where datname = $1`, [`janua_${cpId}_bad-seed-database`])).rowCount).toBe(0)
      // The shared placement holds no rows of the failed tenant (its first seed file ran before the failing one).
      expect((await db.query(`select count(*)::int as n from janua_shared.roles`)).rows[0].n).toBe(0)
    } finally {
      await withSeed.close()
      fs.rmSync(seedDir, { recursive: true, force: true })
    }
  })

  it('the good folder still creates tenants afterwards, at version 4', async () => {
    for (const isolation of ['schema', 'database']) {
      expect(await createTenant(good, { slug: `after-${isolation}`, isolation })).toMatchObject({ status: 'active', version: 4 })
    }
    expect((await listTenants(good)).map((t) => t.slug)).toEqual(['after-database', 'after-schema'])
  })
})
