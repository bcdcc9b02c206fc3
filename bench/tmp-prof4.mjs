import pg from 'pg'
import { objectsSql } from '../dist/catalog/snapshot.js'
const c = new pg.Client('postgres://postgres@127.0.0.1:5432/janua_prof')
await c.connect()
const use = (await c.query(`select nspname from pg_namespace where nspname like 'tenant\\_%' or nspname = 'janua_shared' order by 1`)).rows.map((r) => r.nspname).slice(0, 500)
const full = objectsSql('fingerprint')
const idx = full.indexOf("\nselect ns.nspname::text as schema, 'schema'")
const head = full.slice(0, idx)
const branches = full.slice(idx).split('\nunion all\n')
await c.query(`set search_path = pg_catalog`); await c.query('set jit = off')
const fp = (body) => `select schema, md5(string_agg(kind || ':' || key || '=' || coalesce(descr, ''), E'\\n' order by kind collate "C", key collate "C")) as fingerprint from (${body}) o group by schema`
async function t(text) { let best = 1e9; for (let i = 0; i < 2; i++) { const t0 = performance.now(); await c.query(text, [use, 'janua_app']); best = Math.min(best, performance.now() - t0) } return best }
const base = await t(fp(full))
console.log('base (500 schemas)', base.toFixed(0))
const noExpr = head.replace(/select t from expression_texts where t ~ '[^']*'/, "select null::text as t where false")
console.log('without deparse_needed', (await t(fp(noExpr + branches.join('\nunion all\n')))).toFixed(0))
for (let k = 1; k < branches.length; k++) {
  const ms = await t(fp(head + branches.filter((_, i) => i !== k).join('\nunion all\n')))
  console.log(`${(base - ms).toFixed(0).padStart(6)} saved without ${branches[k].trim().split('\n')[0].slice(0, 80)}`)
}
await c.end()
