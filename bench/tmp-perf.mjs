import pg from 'pg'
import { execSync, spawn } from 'node:child_process'
import { objectsSql } from '../dist/catalog/snapshot.js'
const c = new pg.Client('postgres://postgres@127.0.0.1:5432/janua_prof')
await c.connect()
const use = (await c.query(`select nspname from pg_namespace where nspname like 'tenant\\_%' or nspname = 'janua_shared' order by 1`)).rows.map((r) => r.nspname)
const full = objectsSql('fingerprint')
const idx = full.indexOf("\nselect ns.nspname::text as schema, 'schema'")
const head = full.slice(0, idx)
const branches = full.slice(idx).split('\nunion all\n')
await c.query(`set search_path = pg_catalog`); await c.query('set jit = off')
const pid = (await c.query('select pg_backend_pid() as p')).rows[0].p
const ks = process.argv[2] === 'full' ? null : process.argv[2].split(',').map(Number)
const text = ks ? head + ks.map((k) => branches[k]).join('\nunion all\n') : `select schema, md5(string_agg(kind || ':' || key || '=' || coalesce(descr, ''), E'\\n' order by kind collate "C", key collate "C")) as fingerprint from (${full}) o group by schema`
const rec = spawn('perf', ['record', '-g', '-o', '/tmp/prof/perf.data', '-p', String(pid)], { stdio: 'ignore' })
await new Promise((r) => setTimeout(r, 500))
const t0 = performance.now()
await c.query(`select count(*) from (${text}) o`, [use, 'janua_app'])
console.log('ms', (performance.now() - t0).toFixed(0))
rec.kill('SIGINT'); await new Promise((r) => rec.on('exit', r))
await c.end()
