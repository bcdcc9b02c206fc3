import pg from 'pg'
const { objectsSql } = await import(process.env.SNAP ?? '../dist/catalog/snapshot.js')
const c = new pg.Client('postgres://postgres@127.0.0.1:5432/janua_prof')
await c.connect()
const use = (await c.query(`select nspname from pg_namespace where nspname like 'tenant\\_%' or nspname = 'janua_shared' order by 1`)).rows.map((r) => r.nspname).slice(0, Number(process.argv[3] ?? 100000))
let full = objectsSql('fingerprint')
if (process.env.PATCH) full = (await import(process.env.PATCH)).default(full)
const fp = `select schema, md5(string_agg(kind || ':' || key || '=' || coalesce(descr, ''), E'\\n' order by kind collate "C", key collate "C")) as fingerprint from (${full}) o group by schema`
await c.query(`set search_path = pg_catalog`); await c.query('set jit = off')
for (const s of (process.argv[2] ?? '').split(';').filter(Boolean)) await c.query(s)
for (let i = 0; i < 3; i++) {
  const t0 = performance.now()
  const r = await c.query(fp, [use, 'janua_app'])
  console.log(`${(performance.now() - t0).toFixed(0)} ms ${r.rowCount} ${r.rows[0].fingerprint}`)
}
await c.end()
