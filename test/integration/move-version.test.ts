import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { initDb } from '../../src/core/control-plane.js'
import { moveTenant } from '../../src/core/move/move.js'
import { createTenant, inspectTenant } from '../../src/core/tenants.js'
import { verifyFleet } from '../../src/core/verify.js'
import { JanuaError } from '../../src/core/errors.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { copyTemplates } from '../helpers/templates.js'
import { seedAsApp, snapshotTenant } from '../helpers/tenant-data.js'

describe('moving a tenant that is not at the newest template version', () => {
  let db: TestDatabase
  let janua: Janua
  const templates = copyTemplates()
  const open = () => Janua.open({ databaseUrl: db.url, templates: templates.dir })

  beforeAll(async () => {
    db = await freshDatabase('movever')
    janua = await open()
    await initDb(janua)
    const t = await createTenant(janua, { slug: 'old', isolation: 'schema' })
    await seedAsApp(db.admin, t.placement, t.id)
    templates.add('0005_phone.sql', 'alter table users add column phone text;\n')
    await janua.close()
    janua = await open()
  })
  afterAll(async () => {
    await janua?.close()
    await db?.drop()
    templates.remove()
  })

  it('moves it at its own version to a placement of its own', async () => {
    const before = await inspectTenant(janua, 'old')
    expect(before.version).toBe(4)
    expect(before.pending).toEqual(['0005_phone.sql'])
    const snap = await snapshotTenant(db.admin, before.placement, before.id)
    const report = await moveTenant(janua, { slug: 'old', to: 'database' })
    expect(report.version).toBe(4)
    const after = await inspectTenant(janua, 'old')
    expect(after).toMatchObject({ isolation: 'database', version: 4, pending: ['0005_phone.sql'] })
    expect((await snapshotTenant(db.admin, after.placement, after.id)).tables).toEqual(snap.tables)
    const verdict = await verifyFleet(janua, { tenants: ['old'] })
    expect(verdict.placements.flatMap((p) => p.findings)).toEqual([])
  })

  it('refuses to put it into a shared placement at another version, naming the command that fixes it', async () => {
    await initDb(janua) // the shared placement goes to version 5; the tenant stays at 4
    const error = await moveTenant(janua, { slug: 'old', to: 'shared' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(JanuaError)
    expect((error as JanuaError).exitCode).toBe(2)
    expect((error as JanuaError).hint).toMatch(/janua tenant migrate --tenant old/)
    expect((await inspectTenant(janua, 'old')).status).toBe('active')
  })
})
