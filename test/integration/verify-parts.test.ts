import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { catalogToken, fingerprints, fingerprintsInParts } from '../../src/catalog/snapshot.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'

// Verify reads a database's fingerprints in parts on several connections at once above 500
// schemas; the parts must give exactly what one query gives (here with 4 schemas per query). A
// handful of schemas (a --tenant run, the expected catalog's scratch schema) is read by another
// form of the query (one sum over the whole union): it must give the same fingerprints too.
let db: TestDatabase
let pool: pg.Pool
beforeAll(async () => {
  db = await freshDatabase('verify_parts')
  pool = new pg.Pool({ connectionString: db.url, max: 4 })
  const ddl = Array.from({ length: 11 }, (_, i) => {
    const extra = i === 7 ? ', note text' : ''
    return `create schema s${i}; create table s${i}.t (id int primary key, tenant_id uuid not null${extra}); create index on s${i}.t (tenant_id);`
  })
  await db.query(ddl.join('\n'))
})
afterAll(async () => {
  await pool?.end()
  await db?.drop()
})

it('fingerprints read in parts on several connections equal the ones read in one query', async () => {
  const schemas = Array.from({ length: 11 }, (_, i) => `s${i}`)
  const client = await pool.connect()
  try {
    const whole = await fingerprints(client, schemas, 'postgres')
    const parts = await fingerprintsInParts(client, pool, schemas, 'postgres', 4)
    expect(parts).toEqual(whole)
    expect(parts.size).toBe(11)
    expect(new Set(parts.values()).size).toBe(2) // s7 differs from the ten alike
    const noPool = await fingerprintsInParts(client, undefined, schemas, 'postgres', 4)
    expect(noPool).toEqual(whole)
    for (const schema of schemas) expect((await fingerprints(client, [schema], 'postgres')).get(schema)).toBe(whole.get(schema))
  } finally {
    client.release()
  }
})

it('the catalog token read in parts on several connections equals the one read in one query', async () => {
  const client = await pool.connect()
  try {
    const whole = await catalogToken(client)
    expect(await catalogToken(client, pool, 0)).toBe(whole)
    await db.query('create table s0.another (id int)')
    expect(await catalogToken(client, pool, 0)).not.toBe(whole)
  } finally {
    client.release()
  }
})
