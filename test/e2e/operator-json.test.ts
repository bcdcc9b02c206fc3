import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { repoRoot, runCli, type CliResult } from '../helpers/cli.js'
import { adminUrl, freshDatabase, type TestDatabase } from '../helpers/db.js'
import { validate, type Schema } from '../helpers/json-schema.js'
import { registerSecret } from '../helpers/secret-ledger.js'
import { copyTemplates } from '../helpers/templates.js'

let db: TestDatabase
let folder: ReturnType<typeof copyTemplates>
let role: string
let summaryFile: string
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  DATABASE_URL: db.url,
  JANUA_DATABASE_URL: undefined,
  JANUA_TEMPLATES: folder.dir,
  JANUA_APP_ROLE: role,
  GITHUB_STEP_SUMMARY: undefined,
  ...extra,
})
const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(args, { env: env(extra) })
/** A command whose output is a credential or a data key, printed as it is: kept out of the secret ledger (the secret itself is registered). */
const secretCli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(args, { env: env(extra), showsSecret: true })
const passwordOf = (url: string) => decodeURIComponent(new URL(url).password)
const schemaOf = (name: string) => JSON.parse(fs.readFileSync(path.join(repoRoot, 'docs', 'json', `${name}.schema.json`), 'utf8')) as Schema
const validated = new Set<string>()

/** stdout is one JSON document valid against docs/json/<name>.schema.json. */
function expectValid(r: CliResult, name: string): any {
  expect(r.json, `not one JSON document: ${r.stdout}\n${r.stderr}`).toBeDefined()
  expect(validate(schemaOf(name), r.json), `${name}: ${r.stdout.slice(0, 2000)}`).toEqual([])
  expect(r.json.schemaVersion).toBe(1)
  validated.add(name)
  return r.json
}

beforeAll(async () => {
  db = await freshDatabase('e2e')
  role = `janua_app_${db.name.slice(-8)}`
  // The default templates grant to janua_app by name, while this file's control planes use a role
  // of their own (db destroy drops it): janua_app must exist whichever test file ran first.
  await db.query(`do $$ begin create role janua_app nologin nosuperuser nobypassrls nocreatedb nocreaterole; exception when duplicate_object then null; end $$`)
  folder = copyTemplates()
  summaryFile = path.join(os.tmpdir(), `janua-summary-${db.name}.md`)
})

afterAll(async () => {
  folder?.remove()
  fs.rmSync(summaryFile, { force: true })
  await db?.drop()
  // the database was just dropped: this query is expected to fail, it only releases the helper's pool
  await db?.query(`select 1`).catch(() => undefined)
  const { Client } = (await import('pg')).default
  const c = new Client(db.admin)
  await c.connect()
  try {
    await c.query(`drop role if exists "${role}"`)
  } finally {
    await c.end()
  }
})

describe('each command --json validates against its schema in docs/json/', () => {
  it('db init, tenant create at each level, list, inspect, status, verify, config, dev status, templates check, server list', async () => {
    expectValid(await cli(['db', 'init', '--json']), 'db-init')
    for (const [slug, isolation] of [
      ['js-shared', 'shared'],
      ['js-schema', 'schema'],
      ['js-db', 'database'],
    ])
      expectValid(await cli(['tenant', 'create', slug, '--isolation', isolation, '--json']), 'tenant-create')
    expect(expectValid(await cli(['tenant', 'list', '--json']), 'tenant-list').tenants).toHaveLength(3)
    expectValid(await cli(['tenant', 'inspect', 'js-schema', '--json']), 'tenant-inspect')
    expectValid(await cli(['db', 'status', '--json']), 'db-status')
    expect(expectValid(await cli(['db', 'verify', '--json']), 'db-verify').ok).toBe(true)
    expectValid(await cli(['config', '--json']), 'config')
    expectValid(await cli(['dev', 'status', '--json']), 'dev-status')
    expectValid(await cli(['templates', 'check', '--json']), 'templates-check')
    expectValid(await cli(['server', 'list', '--json']), 'server-list')
    expectValid(await cli(['tenant', 'cleanup', 'js-schema', '--json']), 'tenant-cleanup')
    expectValid(await cli(['tenant', 'move', 'js-schema', '--to', 'database', '--dry-run', '--json']), 'tenant-migrate-isolation')
    expectValid(await cli(['tenant', 'inspect', 'nobody', '--json']), 'error')
    expectValid(await cli(['tenant', 'creat', 'x', '--json']), 'error')
  })

  it('a failing migrate: --format github prints one annotation per distinct error with file and line; the step summary is written; the JSON has ok false and one error', async () => {
    folder.add('0005_broken.sql', 'create table notes (id bigint primary key);\nselect nonsense from;\n')
    const gh = await cli(['tenant', 'migrate', '--format', 'github'], { GITHUB_STEP_SUMMARY: summaryFile })
    expect(gh.code, gh.stderr).toBe(1)
    const annotations = gh.stdout.split('\n').filter((l) => l.startsWith('::error file='))
    expect(annotations).toHaveLength(1)
    expect(annotations[0]).toMatch(/^::error file=.*0005_broken\.sql,line=2,col=\d+,title=janua tenant migrate 42601::/)
    expect(annotations[0]).toContain('4 placement(s)')
    expect(gh.stdout.split('\n').filter((l) => l.startsWith('::error title=janua tenant migrate::'))).toHaveLength(1)
    const summary = fs.readFileSync(summaryFile, 'utf8')
    expect(summary).toContain('### janua tenant migrate: 4 failed')
    expect(summary).toContain('0005_broken.sql:2')

    const human = await cli(['tenant', 'migrate'])
    expect(human.code).toBe(1)
    const failedLines = human.stdout.split('\n').filter((l) => l.startsWith('failed'))
    expect(failedLines).toHaveLength(1)
    expect(failedLines[0]).toMatch(/^failed 4 placement\(s\) \[.*js-schema.*\]: 0005_broken\.sql:2:\d+: /)

    const j = expectValid(await cli(['tenant', 'migrate', '--json']), 'tenant-migrate')
    expect(j.ok).toBe(false)
    expect(j.errors).toHaveLength(1)
    expect(j.errors[0]).toMatchObject({ file: '0005_broken.sql', line: 2, sqlstate: '42601' })
    expect(j.errors[0].placements).toHaveLength(4)

    folder.add('0005_broken.sql', 'create table notes (id bigint primary key);\n')
    const fixed = expectValid(await cli(['tenant', 'migrate', '--json']), 'tenant-migrate')
    expect(fixed).toMatchObject({ ok: true, errors: [] })
    const verify = await cli(['db', 'verify', '--format', 'github'], { GITHUB_STEP_SUMMARY: summaryFile })
    expect(verify.code, verify.stdout).toBe(0)
    expect(fs.readFileSync(summaryFile, 'utf8')).toContain('### janua db verify: ok')
  })

  it('piped tenant list is tab-separated rows without a header; --header adds it', async () => {
    const r = await cli(['tenant', 'list'])
    const rows = r.stdout.trimEnd().split('\n')
    expect(rows).toHaveLength(3)
    for (const row of rows) expect(row.split('\t')).toHaveLength(6)
    expect(rows.map((x) => x.split('\t')[0])).toEqual(['js-db', 'js-schema', 'js-shared'])
    const withHeader = await cli(['tenant', 'list', '--header'])
    expect(withHeader.stdout.split('\n')[0]).toBe('SLUG\tNAME\tSTATUS\tISOLATION\tPLACEMENT\tVERSION')
    const picked = await cli(['tenant', 'list', '--columns', 'slug,isolation'])
    expect(picked.stdout.trim().split('\n')).toEqual(['js-db\tdatabase', 'js-schema\tschema', 'js-shared\tshared'])
    const unknown = await cli(['tenant', 'list', '--columns', 'slug,colour', '--json'])
    expect(unknown.code).toBe(2)
    expect(unknown.json.error.message).toBe('unknown column "colour"')
  })

  it('tenant create says where it places the tenant on stderr; stdout holds only the result', async () => {
    const r = await cli(['tenant', 'create', 'js-extra', '--isolation', 'schema'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim().split('\n')).toHaveLength(1)
    expect(r.stdout).toMatch(/^created js-extra/)
    expect(r.stderr).toContain('placing on server primary')
  })

  it('server add and server remove validate; removing an unknown server is not_found', async () => {
    // The same cluster under another name, through a variable: janua.servers never holds the URL.
    const two = { JS_TWO_URL: adminUrl() }
    const added = expectValid(await cli(['server', 'add', 'js-two', '--url-env', 'JS_TWO_URL', '--json'], two), 'server-add')
    expect(added.name).toBe('js-two')
    const removed = expectValid(await cli(['server', 'remove', 'js-two', '--yes', '--json'], two), 'server-remove')
    expect(removed.name).toBe('js-two')
    const unknown = await cli(['server', 'remove', 'js-two', '--yes', '--json'], two)
    expect(unknown.code).toBe(2)
    expect(unknown.json.error).toMatchObject({ code: 'not_found', message: 'no server "js-two"' })
    expect(validate(schemaOf('error'), unknown.json)).toEqual([])
  })

  it('tenant update, suspend, resume, credentials, key, key rotate, key rewrap, export and import validate (their tenants dropped after)', async () => {
    const m1 = randomBytes(32).toString('base64')
    const m2 = randomBytes(32).toString('base64')
    registerSecret(m1)
    registerSecret(m2)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-json-'))
    try {
      // A master key at create: the tenant gets its data key version 1.
      expectValid(await cli(['tenant', 'create', 'js-life', '--isolation', 'schema', '--json'], { JANUA_MASTER_KEY: m1 }), 'tenant-create')

      const updated = expectValid(await cli(['tenant', 'update', 'js-life', '--status', 'trial', '--plan', 'pro', '--limit', 'max_users=5', '--json']), 'tenant-update')
      expect(updated).toMatchObject({ slug: 'js-life', commercialStatus: 'trial', plan: 'pro', limits: { max_users: 5 }, changed: ['status', 'plan', 'limits.max_users'] })
      const suspended = expectValid(await cli(['tenant', 'suspend', 'js-life', '--reason', 'json contract', '--json']), 'tenant-suspend')
      expect(suspended).toMatchObject({ commercialStatus: 'suspended', suspension: { mode: 'read-only', reason: 'json contract', previousStatus: 'trial' } })
      const resumed = expectValid(await cli(['tenant', 'resume', 'js-life', '--json']), 'tenant-resume')
      expect(resumed).toMatchObject({ commercialStatus: 'trial', suspension: null })

      // The one print of each password: registered, so that no other output may show it.
      const cred = expectValid(await secretCli(['tenant', 'credentials', 'js-life', '--json']), 'tenant-credentials')
      registerSecret(cred.password)
      expect(cred).toMatchObject({ slug: 'js-life', rotated: false, previous: null, outputFile: null })
      expect(passwordOf(cred.connectionString)).toBe(cred.password)
      const file = path.join(dir, 'js-life.url')
      const rotated = expectValid(await cli(['tenant', 'credentials', 'js-life', '--rotate', '--grace', '0', '--output-file', file, '--json']), 'tenant-credentials')
      registerSecret(passwordOf(fs.readFileSync(file, 'utf8').trim()))
      expect(rotated).toMatchObject({ rotated: true, password: null, connectionString: null, outputFile: file, previous: { role: cred.role } })

      const k1 = expectValid(await secretCli(['tenant', 'key', 'js-life', '--json'], { JANUA_MASTER_KEY: m1 }), 'tenant-key')
      registerSecret(k1.key)
      expect(k1).toMatchObject({ slug: 'js-life', version: 1, versions: [1] })
      const k2 = expectValid(await secretCli(['tenant', 'key', 'rotate', 'js-life', '--json'], { JANUA_MASTER_KEY: m1 }), 'tenant-key-rotate')
      registerSecret(k2.key)
      expect(k2).toMatchObject({ version: 2, versions: [1, 2] })
      const rewrapped = expectValid(await cli(['tenant', 'key', 'rewrap', '--json'], { JANUA_MASTER_KEY: m1, JANUA_NEW_MASTER_KEY: m2 }), 'tenant-key-rewrap')
      expect(rewrapped.rewrapped).toBe(2)
      const again = expectValid(await secretCli(['tenant', 'key', 'js-life', '--version', '1', '--json'], { JANUA_MASTER_KEY: m2 }), 'tenant-key')
      expect(again.key).toBe(k1.key)

      const archive = path.join(dir, 'js-life.janua.gz')
      const exported = expectValid(await cli(['tenant', 'export', 'js-life', '--output', archive, '--json']), 'tenant-export')
      expect(exported).toMatchObject({ file: archive, tenant: { slug: 'js-life', isolation: 'schema', commercialStatus: 'trial', plan: 'pro' } })
      expect(exported.tables.length).toBeGreaterThan(0)
      const imported = expectValid(await cli(['tenant', 'import', archive, '--as', 'js-copy', '--isolation', 'shared', '--new-id', '--json']), 'tenant-import')
      expect(imported).toMatchObject({ slug: 'js-copy', isolation: 'shared', status: 'active', newId: true, fromTenant: { slug: 'js-life', isolation: 'schema' } })
      expect(imported.tables).toEqual(exported.tables)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
      // db destroy (below) expects only the tenants of the tests before this one.
      for (const slug of ['js-life', 'js-copy']) await cli(['tenant', 'drop', slug, '--yes', '--if-exists'])
    }
    expect((await cli(['tenant', 'list', '--json'])).json.tenants.map((t: { slug: string }) => t.slug).sort()).toEqual(['js-db', 'js-extra', 'js-schema', 'js-shared'])
  })

  it('db destroy is refused while tenants exist; tenant drop --if-exists; after the last tenant db destroy leaves no janua database, schema or role of the control plane', async () => {
    const cpId = (await db.query<{ value: string }>(`select value from janua.meta where key = 'id'`)).rows[0]!.value
    const refused = await cli(['db', 'destroy', '--yes'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('still has 4 tenant(s)')
    expect((await cli(['db', 'destroy'])).code).toBe(2) // no --yes, no terminal
    expect(expectValid(await cli(['tenant', 'drop', 'never-was', '--yes', '--if-exists', '--json']), 'tenant-drop')).toMatchObject({ dropped: false, ok: true })
    expect((await cli(['tenant', 'drop', 'never-was', '--yes'])).code).toBe(2)
    for (const slug of ['js-shared', 'js-schema', 'js-db', 'js-extra']) expect(expectValid(await cli(['tenant', 'drop', slug, '--yes', '--json']), 'tenant-drop').ok).toBe(true)
    const before = await db.query<{ datname: string }>(`select datname from pg_database where datname like $1`, [`janua\\_${cpId}\\_%`])
    expect(before.rows.length).toBeGreaterThan(0)
    const destroyed = expectValid(await cli(['db', 'destroy', '--yes', '--json']), 'db-destroy')
    expect(destroyed).toMatchObject({ ok: true, controlPlane: cpId, schemas: ['janua_shared', 'janua'] })
    // the app role, and the tenant roles' group that the tenants' roles were members of
    expect(destroyed.roles).toEqual([
      { server: 'primary', role },
      { server: 'primary', role: `janua_${cpId}_tenants` },
    ])
    expect((await db.query(`select rolname from pg_roles where rolname like $1`, [`janua\\_${cpId}\\_%`])).rows).toEqual([])
    const after = await db.query<{ datname: string }>(`select datname from pg_database where datname like $1`, [`janua\\_${cpId}\\_%`])
    expect(after.rows).toEqual([])
    const schemas = await db.query<{ nspname: string }>(`select nspname from pg_namespace where nspname like 'janua%' or nspname like 'tenant\\_%'`)
    expect(schemas.rows).toEqual([])
    expect((await db.query(`select 1 from pg_roles where rolname = $1`, [role])).rowCount).toBe(0)
    // The shared default role of other control planes on this server is untouched.
    const again = await cli(['db', 'destroy', '--yes', '--json'])
    expect(again.code).toBe(2)
    expect(again.json.error.code).toBe('not_found')
  })

  it('a role another control plane still uses is kept', async () => {
    const other = await freshDatabase('e2e')
    try {
      const shared = { JANUA_APP_ROLE: role }
      expect((await runCli(['db', 'init'], { env: env({ ...shared, DATABASE_URL: other.url }) })).code).toBe(0)
      expect((await runCli(['db', 'init'], { env: env(shared) })).code).toBe(0)
      const r = await cli(['db', 'destroy', '--yes', '--json'])
      expect(r.json.keptRoles.map((k: { role: string }) => k.role)).toEqual([role])
      expect((await db.query(`select 1 from pg_roles where rolname = $1`, [role])).rowCount).toBe(1)
      const last = await runCli(['db', 'destroy', '--yes', '--json'], { env: env({ ...shared, DATABASE_URL: other.url }) })
      expect(last.json.roles).toEqual([{ server: 'primary', role }])
    } finally {
      await other.drop()
    }
  })

  it('every schema in docs/json/ except the embedded server commands (foundation-embedded validates those) was exercised', () => {
    const all = fs.readdirSync(path.join(repoRoot, 'docs', 'json')).map((f) => f.replace('.schema.json', ''))
    const untested = all.filter((n) => !validated.has(n)).sort()
    expect(untested).toEqual(['dev-start', 'dev-stop', 'dev-url'])
  })
})
