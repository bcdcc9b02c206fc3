import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { createTenant, listTenants } from '../../src/core/tenants.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'

describe('smoke', () => {
  let db: TestDatabase
  let janua: Janua
  beforeAll(async () => {
    db = await freshDatabase('smoke')
    janua = await Janua.open({ databaseUrl: db.url })
  })
  afterAll(async () => {
    await janua?.close()
    await db?.drop()
  })

  it('creates a tenant at each level', async () => {
    for (const isolation of ['shared', 'schema', 'database']) {
      const t = await createTenant(janua, { slug: `t-${isolation}`, isolation })
      expect(t.version).toBe(4)
    }
    expect((await listTenants(janua)).map((t) => t.slug)).toEqual(['t-database', 't-schema', 't-shared'])
  })
})
