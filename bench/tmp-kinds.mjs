import pg from 'pg'
import fs from 'node:fs'
import { fingerprintObjects } from '../dist/catalog/snapshot.js'
const admin = 'postgres://postgres@127.0.0.1:5432/postgres'
const a = new pg.Client(admin); await a.connect()
await a.query('drop database if exists janua_kinds_dbg'); await a.query('create database janua_kinds_dbg'); await a.end()
const c = new pg.Client('postgres://postgres@127.0.0.1:5432/janua_kinds_dbg'); await c.connect()
await c.query('create schema extensions; create extension citext schema extensions; create extension btree_gist schema extensions; create extension pgcrypto schema extensions')
const dir = 'test/fixtures/templates-every-kind'
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()
for (const s of ['s_one', 's_two']) {
  await c.query(`create schema ${s}; set search_path = ${s}, extensions`)
  for (const f of files) await c.query(fs.readFileSync(`${dir}/${f}`, 'utf8'))
}
await c.query('reset search_path')
const m = await fingerprintObjects(c, ['s_one', 's_two'], 'nobody')
const one = m.get('s_one'), two = m.get('s_two')
for (const [k, v] of one) if (two.get(k)?.descr !== v.descr) console.log('DIFF', k, '\n  1:', v.descr, '\n  2:', two.get(k)?.descr)
await c.end()
