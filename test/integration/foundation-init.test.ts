import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { initDb } from '../../src/core/control-plane.js'
import { JanuaError } from '../../src/core/errors.js'
import { createTenant, listTenants } from '../../src/core/tenants.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { defaultTemplates, templateFolder } from '../helpers/foundation.js'

let db: TestDatabase
let templates: string
const opened: Janua[] = []

async function open(): Promise<Janua> {
  const janua = await Janua.open({ databaseUrl: db.url, templates })
  opened.push(janua)
  return janua
}

beforeAll(async () => {
  db = await freshDatabase('init')
  templates = templateFolder({}, defaultTemplates)
})

afterAll(async () => {
  // cleanup after the tests: a pool that failed to close leaves nothing the database drop below does not remove
  for (const janua of opened) await janua.close().catch(() => {})
  await db?.drop()
  if (templates) fs.rmSync(templates, { recursive: true, force: true })
})

describe('db init', () => {
  it('is idempotent: a second run finds the same control plane and applies nothing', async () => {
    const first = await initDb(await open())
    expect(first.controlPlane.created).toBe(true)
    expect(first.controlPlane.id).toMatch(/^[0-9a-f]{8}$/)
    expect(first.controlPlane.database).toBe(db.name)
    expect(first.sharedPlacement.version).toBe(4)
    expect(first.sharedPlacement.applied).toEqual(['0001_identity.sql', '0002_teams_rbac.sql', '0003_billing.sql', '0004_audit_integrations.sql'])
    expect(first.sharedPlacement.placement).toEqual({ server: 'primary', database: db.name, schema: 'janua_shared' })
    expect(first.appRole.name).toBe('janua_app')

    const second = await initDb(await open())
    expect(second.controlPlane.id).toBe(first.controlPlane.id)
    expect(second.controlPlane.created).toBe(false)
    expect(second.controlPlane.schemaVersion).toBe(first.controlPlane.schemaVersion)
    expect(second.appRole.created).toBe(false)
    expect(second.sharedPlacement.applied).toEqual([])
    expect(second.sharedPlacement.version).toBe(4)

    // Again on the same handle.
    const janua = await open()
    await initDb(janua)
    const third = await initDb(janua)
    expect(third.controlPlane).toMatchObject({ id: first.controlPlane.id, created: false })

    const { rows } = await db.query(`select count(*)::int as n from janua.meta where key = 'id'`)
    expect(rows[0].n).toBe(1)
    const placements = await db.query(`select kind, version from janua.placements`)
    expect(placements.rows).toEqual([{ kind: 'shared', version: 4 }])
    const history = await db.query(`select count(*)::int as n from janua_shared.janua_template_history`)
    expect(history.rows[0].n).toBe(4)
  })

  it('the app role is NOLOGIN, no superuser, no BYPASSRLS, and owns nothing', async () => {
    const { rows } = await db.query(`select rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole from pg_roles where rolname = 'janua_app'`)
    expect(rows[0]).toEqual({ rolcanlogin: false, rolsuper: false, rolbypassrls: false, rolcreatedb: false, rolcreaterole: false })
    const owned = await db.query(`select count(*)::int as n from pg_class c join pg_roles r on r.oid = c.relowner where r.rolname = 'janua_app'`)
    expect(owned.rows[0].n).toBe(0)
  })

  it('refuses an applied template that was edited: exit 6, naming the file', async () => {
    const janua = await open()
    await createTenant(janua, { slug: 'before-edit', isolation: 'schema' })
    fs.appendFileSync(path.join(templates, '0002_teams_rbac.sql'), '\n-- an innocent-looking comment\n')

    let caught: unknown
    try {
      await initDb(await open())
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(JanuaError)
    expect((caught as JanuaError).exitCode).toBe(6)
    expect((caught as JanuaError).message).toContain('0002_teams_rbac.sql')
    // Nothing was recorded for the edited file, and the tenants are untouched.
    const history = await db.query(`select file, sha256 from janua_shared.janua_template_history where file = '0002_teams_rbac.sql'`)
    expect(history.rows).toHaveLength(1)
    expect((await listTenants(await open())).map((t) => t.slug)).toEqual(['before-edit'])
  })

  it('accepts the folder again once the file is restored', async () => {
    fs.cpSync(path.join(defaultTemplates, '0002_teams_rbac.sql'), path.join(templates, '0002_teams_rbac.sql'))
    const result = await initDb(await open())
    expect(result.sharedPlacement).toMatchObject({ version: 4, applied: [] })
  })

  it('refuses an applied template that was removed from the folder: exit 6, naming it', async () => {
    fs.rmSync(path.join(templates, '0004_audit_integrations.sql'))
    await expect(initDb(await open())).rejects.toSatisfy((e: unknown) => e instanceof JanuaError && e.exitCode === 6 && e.message.includes('0004_audit_integrations.sql'))
  })
})
