import pg from 'pg'
import { fingerprintsInParts } from '../dist/catalog/snapshot.js'
const url = 'postgres://postgres@127.0.0.1:5432/janua_prof'
const pool = new pg.Pool({ connectionString: url, max: 4 })
const c = await pool.connect()
const use = (await c.query(`select nspname from pg_namespace where nspname like 'tenant\\_%' or nspname = 'janua_shared' order by 1`)).rows.map((r) => r.nspname)
for (const per of [2000, 501, 334, 250]) {
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now()
    const m = await fingerprintsInParts(c, pool, use, 'janua_app', per)
    console.log(`per ${per}: ${(performance.now() - t0).toFixed(0)} ms (${m.size})`)
  }
}
const r = await c.query(`explain (analyze, buffers, timing off) select count(*) from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace where n.nspname = any($1::text[])`, [use])
console.log(r.rows.map((x) => x['QUERY PLAN']).filter((l) => /Buffers|Execution/.test(l)).join('\n'))
c.release(); await pool.end()
