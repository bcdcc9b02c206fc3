import pg from 'pg'
import { objectsSql } from '../dist/catalog/snapshot.js'
const c = new pg.Client('postgres://postgres@127.0.0.1:5432/janua_prof')
await c.connect()
const schemas = (await c.query(`select nspname from pg_namespace where nspname like 'tenant\\_%' or nspname = 'janua_shared' order by 1`)).rows.map((r) => r.nspname)
const limit = Number(process.argv[2] ?? schemas.length)
const use = schemas.slice(0, limit)
const role = (await c.query(`select value from janua.meta where key='app_role'`).catch(() => ({ rows: [] }))).rows[0]?.value ?? 'janua_app'
console.log('schemas', use.length, 'role', role)
const full = objectsSql('fingerprint')
const idx = full.indexOf("\nselect ns.nspname::text as schema, 'schema'")
const head = full.slice(0, idx)
const branches = full.slice(idx).split('\nunion all\n')
await c.query(`set search_path = pg_catalog`); if (process.env.NOJIT) await c.query('set jit = off')
async function time(label, text) {
  const t0 = performance.now()
  const r = await c.query(`select count(*) as n from (${text}) o`, [use, role])
  console.log(`${(performance.now() - t0).toFixed(0).padStart(6)} ms  ${String(r.rows[0].n).padStart(7)} rows  ${label}`)
}
await time('WHOLE (rows)', full)
const fp = `select schema, md5(string_agg(kind || ':' || key || '=' || coalesce(descr, ''), E'\\n' order by kind collate "C", key collate "C")) as fingerprint from (${full}) o group by schema`
await time('WHOLE fingerprint', fp)
for (const b of branches) await time(b.trim().split('\n')[0].slice(0, 90) + ' ... ' + (b.match(/from ([^\n]*)/g) ?? []).slice(-1)[0]?.slice(0, 60), head + b)
await c.end()
