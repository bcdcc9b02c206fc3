import { benchWorkspace, buildFleet, query, serverUrl } from './lib/common.js'
import fs from 'node:fs'
const server = 'postgres://postgres@127.0.0.1:5432/postgres'
await query(server, 'drop database if exists janua_prof')
await query(server, 'create database janua_prof')
const url = 'postgres://postgres@127.0.0.1:5432/janua_prof'
const dir = '/tmp/prof/ws'
fs.rmSync(dir, { recursive: true, force: true }); fs.mkdirSync(dir, { recursive: true })
fs.cpSync('/work/main/templates', dir + '/templates', { recursive: true })
await buildFleet({ url, templatesDir: dir + '/templates', cwd: dir, schemas: Number(process.argv[2] ?? 1000), databases: 0, parallelism: 4 })
console.log('done', url)
process.exit(0)
