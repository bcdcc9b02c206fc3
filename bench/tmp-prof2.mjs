import pg from 'pg'
import { objectsSql } from '../dist/catalog/snapshot.js'
const c = new pg.Client('postgres://postgres@127.0.0.1:5432/janua_prof')
await c.connect()
const use = (await c.query(`select nspname from pg_namespace where nspname like 'tenant\\_%' or nspname = 'janua_shared' order by 1`)).rows.map((r) => r.nspname)
const full = objectsSql('fingerprint')
const idx = full.indexOf("\nselect ns.nspname::text as schema, 'schema'")
const head = full.slice(0, idx)
const branches = full.slice(idx).split('\nunion all\n')
await c.query(`set search_path = pg_catalog`); await c.query('set jit = off')
let prev = 0
for (let k = 1; k <= branches.length; k++) {
  const text = head + branches.slice(0, k).join('\nunion all\n')
  const t0 = performance.now()
  await c.query(`select count(*) from (${text}) o`, [use, 'janua_app'])
  const ms = performance.now() - t0
  console.log(`${ms.toFixed(0).padStart(6)} (+${(ms - prev).toFixed(0).padStart(5)}) ${branches[k - 1].trim().split('\n')[0].slice(0, 80)}`)
  prev = ms
}
await c.end()
