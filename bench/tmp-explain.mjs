import pg from 'pg'
import { objectsSql } from '../dist/catalog/snapshot.js'
const c = new pg.Client('postgres://postgres@127.0.0.1:5432/janua_prof')
await c.connect()
const schemas = (await c.query(`select nspname from pg_namespace where nspname like 'tenant\\_%' or nspname = 'janua_shared' order by 1`)).rows.map((r) => r.nspname)
const use = schemas.slice(0, Number(process.argv[3] ?? schemas.length))
const full = objectsSql('fingerprint')
const idx = full.indexOf("\nselect ns.nspname::text as schema, 'schema'")
const head = full.slice(0, idx)
const branches = full.slice(idx).split('\nunion all\n')
await c.query(`set search_path = pg_catalog`); await c.query('set jit = off')
const which = process.argv[2]
const text = which === 'full' ? `select schema, md5(string_agg(kind || ':' || key || '=' || coalesce(descr, ''), E'\\n' order by kind collate "C", key collate "C")) as fingerprint from (${full}) o group by schema` : head + branches[Number(which)]
const r = await c.query(`explain (analyze, buffers, timing) ${text}`, [use, 'janua_app'])
console.log(r.rows.map((x) => x['QUERY PLAN']).join('\n'))
await c.end()
