import fs from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { initDb } from '../../src/core/control-plane.js'
import { JanuaError } from '../../src/core/errors.js'
import { createTenant, dropTenant, inspectTenant, listTenants } from '../../src/core/tenants.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { adminClient, controlPlaneId, tablesOf, templateFolder } from '../helpers/foundation.js'

/** A team's existing schema: no tenant_id anywhere. */
describe('a template folder without tenant_id', () => {
  let db: TestDatabase
  let janua: Janua
  let templates: string

  beforeAll(async () => {
    db = await freshDatabase('own')
    templates = templateFolder({ '0001_things.sql': 'create table things (id int primary key, name text);\n' })
    janua = await Janua.open({ databaseUrl: db.url, templates })
    await initDb(janua)
  })
  afterAll(async () => {
    await janua?.close()
    await db?.drop()
    if (templates) fs.rmSync(templates, { recursive: true, force: true })
  })

  it('works for a schema tenant', async () => {
    const t = await createTenant(janua, { slug: 'own-schema', isolation: 'schema' })
    expect(t).toMatchObject({ status: 'active', isolation: 'schema', version: 1 })
    const client = await adminClient(db)
    try {
      expect(await tablesOf(client, 'tenant_own-schema')).toEqual(['janua_template_history', 'things'])
    } finally {
      await client.end()
    }
    const inspection = await inspectTenant(janua, 'own-schema')
    expect(inspection).toMatchObject({ version: 1, pending: [] })
  })

  it('works for a database tenant', async () => {
    const t = await createTenant(janua, { slug: 'own-db', isolation: 'database' })
    expect(t).toMatchObject({ status: 'active', isolation: 'database', version: 1 })
    const client = await adminClient(db, t.placement.database)
    try {
      expect(await tablesOf(client, 'tenant')).toEqual(['janua_template_history', 'things'])
    } finally {
      await client.end()
    }
    expect(await inspectTenant(janua, 'own-db')).toMatchObject({ version: 1, pending: [] })
  })

  it('refuses a shared tenant with exit 2, saying why, and leaves nothing', async () => {
    let caught: unknown
    try {
      await createTenant(janua, { slug: 'own-shared', isolation: 'shared' })
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(JanuaError)
    const error = caught as JanuaError
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain('tenant_id')
    expect(error.hint).toMatch(/schema|database/)

    expect((await db.query(`select 1 from janua.tenants where slug = 'own-shared'`)).rowCount).toBe(0)
    expect((await db.query(`select count(*)::int as n from janua_shared.things`)).rows[0].n).toBe(0)
    expect((await listTenants(janua)).map((t) => t.slug)).toEqual(['own-db', 'own-schema'])
    expect((await db.query(`select 1 from janua.operations where tenant_slug = 'own-shared' and status = 'running'`)).rowCount).toBe(0)
  })

  it('drops schema and database tenants of such a folder', async () => {
    await dropTenant(janua, 'own-schema', { confirmed: true })
    await dropTenant(janua, 'own-db', { confirmed: true })
    expect(await listTenants(janua)).toEqual([])
    expect((await db.query(`select 1 from pg_namespace where nspname = 'tenant_own-schema'`)).rowCount).toBe(0)
    const cpId = await controlPlaneId(db)
    expect((await db.query(`select 1 from pg_database where datname = $1`, [`janua_${cpId}_own-db`])).rowCount).toBe(0)
  })
})
