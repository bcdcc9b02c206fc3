import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { initDb } from '../../src/core/control-plane.js'
import { JanuaError } from '../../src/core/errors.js'
import { createTenant, listTenants } from '../../src/core/tenants.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { controlPlaneId } from '../helpers/foundation.js'

/**
 * A schema or database that already carries a tenant's name but belongs to no tenant (someone's
 * data): `tenant create` must refuse (exit 2) and must not touch it. Safety rule 2: never lose a row.
 */
describe('a placement name that is already taken by data janua does not own', () => {
  let db: TestDatabase
  let janua: Janua
  let cpId: string

  beforeAll(async () => {
    db = await freshDatabase('taken')
    janua = await Janua.open({ databaseUrl: db.url })
    await initDb(janua)
    cpId = (await controlPlaneId(db))!
  })
  afterAll(async () => {
    await janua?.close()
    await db?.drop()
  })

  async function refusal(slug: string, isolation: string): Promise<JanuaError> {
    let caught: unknown
    try {
      await createTenant(janua, { slug, isolation })
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(JanuaError)
    return caught as JanuaError
  }

  it('schema: refused with exit 2, and the existing schema and its rows are kept', async () => {
    await db.query(`create schema "tenant_taken-schema"; create table "tenant_taken-schema".precious (x int); insert into "tenant_taken-schema".precious values (42);`)
    const error = await refusal('taken-schema', 'schema')
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain('already exists')
    expect((await db.query(`select 1 from janua.tenants where slug = 'taken-schema'`)).rowCount).toBe(0)
    const kept = await db.query(`select 1 from pg_namespace where nspname = 'tenant_taken-schema'`)
    expect(kept.rowCount, 'the pre-existing schema was dropped by the failed create').toBe(1)
    expect((await db.query(`select x from "tenant_taken-schema".precious`)).rows).toEqual([{ x: 42 }])
  })

  it('database: refused with exit 2, and the existing database and its rows are kept', async () => {
    const name = `janua_${cpId}_taken-db`
    await db.query(`create database "${name}"`)
    await db.queryIn(name, `create table precious (x int); insert into precious values (42);`)
    const error = await refusal('taken-db', 'database')
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain('already exists')
    expect((await db.query(`select 1 from janua.tenants where slug = 'taken-db'`)).rowCount).toBe(0)
    const kept = await db.query(`select 1 from pg_database where datname = $1`, [name])
    expect(kept.rowCount, 'the pre-existing database was dropped by the failed create').toBe(1)
    expect((await db.queryIn(name, `select x from precious`)).rows).toEqual([{ x: 42 }])
  })

  it('no tenant was created by either attempt', async () => {
    expect(await listTenants(janua)).toEqual([])
  })
})
