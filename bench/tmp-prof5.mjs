import pg from 'pg'
const c = new pg.Client('postgres://postgres@127.0.0.1:5432/janua_prof')
await c.connect()
const use = (await c.query(`select nspname from pg_namespace where nspname like 'tenant\\_%' or nspname = 'janua_shared' order by 1`)).rows.map((r) => r.nspname)
await c.query(`set search_path = pg_catalog`); await c.query('set jit = off')
const BIG_OID = String.raw`(1[6-9]\d{3}|[2-9]\d{4}|[1-9]\d{5,})`
const NODE = String.raw`:(?!location )[a-z]+ ${BIG_OID}\M|:consttype (24|220[2-6]|3734|3769|4089|4096|4191)\M`
const base = (u) => `with ns as (select oid from pg_namespace where nspname = any($1::text[])), rel as materialized (select c.oid from pg_class c join ns on ns.oid = c.relnamespace where c.relkind in ('r','p','v','m','S','f'))
, e as (select d.adbin::text as t from rel r join pg_attrdef d on d.adrelid = r.oid
  ${u} select con.conbin::text from rel r join pg_constraint con on con.conrelid = r.oid where con.conbin is not null
  ${u} select p.polqual::text from rel r join pg_policy p on p.polrelid = r.oid where p.polqual is not null
  ${u} select p.polwithcheck::text from rel r join pg_policy p on p.polrelid = r.oid where p.polwithcheck is not null)`
async function t(label, sql, settings = []) {
  for (const s of settings) await c.query(s)
  const t0 = performance.now(); const r = await c.query(sql, [use]); console.log(label, (performance.now() - t0).toFixed(0), 'ms', JSON.stringify(r.rows[0]))
  await c.query('reset enable_sort'); await c.query('reset work_mem')
}
await t('texts only (union all)', base('union all') + ` select count(*), sum(length(t)) from e`)
await t('union (sort distinct)', base('union') + ` select count(*) from e`)
await t('union, enable_sort off', base('union') + ` select count(*) from e`, ['set enable_sort = off'])
await t('union, work_mem 256MB', base('union') + ` select count(*) from e`, ["set work_mem = '256MB'"])
await t('regex per row', base('union all') + ` select count(*) from e where t ~ '${NODE}'`)
await t('md5 per row distinct', base('union all') + ` select count(distinct md5(t)) from e`)
await c.end()
