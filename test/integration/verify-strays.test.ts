import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { initDb } from '../../src/core/control-plane.js'
import { installFence } from '../../src/core/fence.js'
import { installCapture, removeCapture } from '../../src/core/move/capture.js'
import { createTenant } from '../../src/core/tenants.js'
import { verifyFleet } from '../../src/core/verify.js'
import { adminClient } from '../helpers/foundation.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'

/** What verify finds that no template declares: rows nobody reads, and move objects of no running move. */
describe('verify: unplaced rows and stray move objects', () => {
  let db: TestDatabase
  let janua: Janua
  const codes = async () => (await verifyFleet(janua)).placements.flatMap((p) => p.findings.map((f) => f.code))

  beforeAll(async () => {
    db = await freshDatabase('strays')
    janua = await Janua.open({ databaseUrl: db.url })
    await initDb(janua)
    await createTenant(janua, { slug: 'resident', isolation: 'shared' })
    await createTenant(janua, { slug: 'neighbour', isolation: 'schema' })
  })
  afterAll(async () => {
    await janua?.close()
    await db?.drop()
  })

  it('reports rows of a tenant id that is not placed in the shared placement, and is clean once they go', async () => {
    expect(await codes()).toEqual([])
    const ghost = randomUUID()
    await db.query(`insert into janua_shared.users (tenant_id, email) values ($1, 'ghost@example.com')`, [ghost])
    const report = await verifyFleet(janua)
    const finding = report.placements.flatMap((p) => p.findings).find((f) => f.code === 'fleet/unplaced-rows')!
    expect(finding.message).toContain(ghost)
    expect(report.ok).toBe(false)
    await db.query('delete from janua_shared.users where tenant_id = $1', [ghost])
    expect(await codes()).toEqual([])
  })

  it('reports a capture trigger and log, and a fence, that belong to no running move', async () => {
    const nobody = { id: randomUUID(), slug: 'nobody' }
    const client = await adminClient(db)
    try {
      await installCapture(client, 'janua_shared', [{ name: 'users', key: ['id'], tenantRows: true }], nobody.id)
      await installFence(client, 'janua_shared', ['teams'], nobody)
    } finally {
      await client.end()
    }
    // the log, the row trigger and the TRUNCATE trigger; the fence
    expect((await codes()).sort()).toEqual(['fleet/stray-capture', 'fleet/stray-capture', 'fleet/stray-capture', 'fleet/stray-fence'])
    // --tenant looks for stray triggers on its own placement's tables only: the shared tenant sees them, a schema tenant of the same database does not
    const filtered = async (slug: string) => (await verifyFleet(janua, { tenants: [slug] })).placements.flatMap((p) => p.findings.map((f) => `${f.code} ${f.object}`))
    expect((await filtered('resident')).sort()).toEqual((await verifyFleet(janua)).placements.flatMap((p) => p.findings.map((f) => `${f.code} ${f.object}`)).sort())
    expect((await filtered('neighbour')).filter((f) => f.includes('janua_shared.'))).toEqual([])
    const again = await adminClient(db)
    try {
      await removeCapture(again, 'janua_shared', ['users'], nobody.id)
      await again.query(`drop trigger janua_fence_${nobody.id.replaceAll('-', '').slice(0, 16)} on janua_shared.teams`)
    } finally {
      await again.end()
    }
    expect(await codes()).toEqual([])
  })
})
