import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allOutput, runCli, type CliResult } from '../helpers/cli.js'
import { registerSecret } from '../helpers/secret-ledger.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { controlPlaneId, controlPlaneTenantDatabases, mapLimit, ownLines, stackLines } from '../helpers/foundation.js'

const LEVELS = ['shared', 'schema', 'database'] as const
const TENANT_KEYS = ['id', 'isolation', 'name', 'placement', 'slug', 'status', 'version']

let db: TestDatabase
/** The test database's URL, with a password in it (a fake one when the server does not need any). */
let urlWithPassword: string
let password: string

const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: undefined, ...extra })
const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(args, { env: env(extra) })

/** stdout holds one JSON document and nothing else. */
function oneJson(r: CliResult): any {
  expect(r.json, `stdout is not one JSON document: ${r.stdout}\nstderr: ${r.stderr}`).toBeDefined()
  expect(r.stdout.trim().startsWith('{')).toBe(true)
  expect(r.stdout.trim().endsWith('}')).toBe(true)
  return r.json
}

function expectTenantObject(t: any) {
  expect(Object.keys(t).sort()).toEqual(TENANT_KEYS)
  expect(Object.keys(t.placement).sort()).toEqual(['database', 'schema', 'server'])
  expect(t.id).toMatch(/^[0-9a-f-]{36}$/)
  expect(typeof t.version).toBe('number')
}

beforeAll(async () => {
  db = await freshDatabase('e2e')
  const u = new URL(db.url)
  if (!u.password) u.password = 'Unneeded-Pw-4711'
  password = decodeURIComponent(u.password)
  registerSecret(password)
  urlWithPassword = u.toString()
})

afterAll(async () => {
  await db?.drop()
})

describe('tenant create / list / inspect --json', () => {
  const created: Record<string, any> = {}

  it.each(LEVELS)('tenant create e2e-%s --json prints the tenant object and exits 0', async (isolation) => {
    const r = await cli(['tenant', 'create', `e2e-${isolation}`, '--isolation', isolation, '--name', `E2E ${isolation}`, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const { schemaVersion, ...t } = oneJson(r)
    expect(schemaVersion).toBe(1)
    expectTenantObject(t)
    expect(t).toMatchObject({ slug: `e2e-${isolation}`, name: `E2E ${isolation}`, status: 'active', isolation, version: 4 })
    expect(t.placement.server).toBe('primary')
    expect(stackLines(r.stderr)).toEqual([])
    created[isolation] = t
  })

  it('tenant list --json shows all three', async () => {
    const r = await cli(['tenant', 'list', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const doc = oneJson(r)
    expect(Object.keys(doc)).toEqual(['schemaVersion', 'tenants'])
    // the listing adds the commercial record (tenant update / suspend) to the created tenant's keys
    for (const t of doc.tenants) expect(Object.keys(t).sort()).toEqual([...TENANT_KEYS, 'commercialStatus', 'limits', 'plan', 'suspension'].sort())
    expect(doc.tenants.map((t: any) => t.slug)).toEqual(['e2e-database', 'e2e-schema', 'e2e-shared'])
    for (const level of LEVELS)
      expect(doc.tenants.find((t: any) => t.isolation === level)).toEqual({ ...created[level], commercialStatus: 'active', plan: null, limits: {}, suspension: null })

    const filtered = oneJson(await cli(['tenant', 'list', '--isolation', 'schema', '--json']))
    expect(filtered.tenants.map((t: any) => t.slug)).toEqual(['e2e-schema'])
  })

  it.each(LEVELS)('tenant inspect e2e-%s --json: placement, version 4, nothing pending, tables, size, operations', async (isolation) => {
    const r = await cli(['tenant', 'inspect', `e2e-${isolation}`, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const doc = oneJson(r)
    expect(doc).toMatchObject({ ...created[isolation], version: 4, pending: [] })
    expect(Array.isArray(doc.tables)).toBe(true)
    expect(doc.tables.length).toBeGreaterThanOrEqual(20)
    for (const table of doc.tables) {
      expect(Object.keys(table).sort()).toEqual(['name', 'rows'])
      expect(typeof table.name).toBe('string')
      expect(typeof table.rows).toBe('number')
    }
    expect(doc.tables.find((t: any) => t.name === 'roles')).toEqual({ name: 'roles', rows: 4 })
    expect(typeof doc.sizeBytes).toBe('number')
    expect(Array.isArray(doc.operations)).toBe(true)
    expect(doc.operations.map((o: any) => [o.kind, o.status])).toContainEqual(['tenant.create', 'succeeded'])
  })

  it('plain output (no --json) is readable text, not JSON', async () => {
    const r = await cli(['tenant', 'list'])
    expect(r.code).toBe(0)
    expect(r.json).toBeUndefined()
    for (const level of LEVELS) expect(r.stdout).toContain(`e2e-${level}`)
    const inspect = await cli(['tenant', 'inspect', 'e2e-schema'])
    expect(inspect.code).toBe(0)
    expect(inspect.stdout).toContain('roles')
  })
})

describe('bad input exits 2 and creates nothing', () => {
  const cases: [string, string[]][] = [
    ['uppercase', ['tenant', 'create', 'Acme']],
    ['punctuation', ['tenant', 'create', 'a;drop', '--isolation', 'schema']],
    ['pg prefix', ['tenant', 'create', 'pg_x', '--isolation', 'database']],
    ['reserved', ['tenant', 'create', 'public', '--isolation', 'schema']],
    ['empty', ['tenant', 'create', '', '--isolation', 'database']],
    ['64 characters', ['tenant', 'create', 'a'.repeat(64), '--isolation', 'database']],
    ['existing slug', ['tenant', 'create', 'e2e-shared', '--isolation', 'database']],
    ['bad isolation', ['tenant', 'create', 'fine-slug', '--isolation', 'foo']],
    ['unknown flag', ['tenant', 'create', 'fine-slug', '--no-such-flag']],
    ['missing slug', ['tenant', 'create', '--isolation', 'schema']],
    ['inspect unknown tenant', ['tenant', 'inspect', 'nobody-here']],
    ['drop unknown tenant', ['tenant', 'drop', 'nobody-here', '--yes']],
  ]
  const results = new Map<string, { plain: CliResult; json: CliResult }>()

  beforeAll(async () => {
    // Two at a time; the plain and --json runs of one case one after the other.
    await mapLimit(cases, 2, async ([label, args]) => {
      const plain = await cli(args)
      const json = await cli([...args, '--json'])
      results.set(label, { plain, json })
    })
  })

  it.each(cases)('%s', (label) => {
    const { plain, json } = results.get(label)!
    expect(plain.code, `${plain.stdout}${plain.stderr}`).toBe(2)
    expect(stackLines(plain.stderr), plain.stderr).toEqual([])
    expect(stackLines(plain.stdout)).toEqual([])
    expect(plain.stderr).toMatch(/error/i)
    // One clear line (what, why) and a hint: short, not a dump.
    expect(ownLines(plain.stderr).length, plain.stderr).toBeLessThanOrEqual(2)

    expect(json.code, `${json.stdout}${json.stderr}`).toBe(2)
    const doc = oneJson(json)
    expect(Object.keys(doc)).toEqual(['schemaVersion', 'ok', 'error'])
    expect(doc.error).toMatchObject({ code: label.endsWith('unknown tenant') ? 'not_found' : 'invalid_input', exitCode: 2 })
    expect(typeof doc.error.message).toBe('string')
    expect(doc.error.message.length).toBeGreaterThan(0)
    expect(typeof doc.error.hint).toBe('string')
    expect(stackLines(json.stderr), json.stderr).toEqual([])
  })

  it('after all of them, only the tenants created on purpose exist, and no stray schema or database', async () => {
    const list = oneJson(await cli(['tenant', 'list', '--json']))
    expect(list.tenants.map((t: any) => t.slug)).toEqual(['e2e-database', 'e2e-schema', 'e2e-shared'])
    expect(list.tenants.every((t: any) => t.status === 'active')).toBe(true)
    const schemas = await db.query<{ nspname: string }>(`select nspname from pg_namespace where nspname like 'tenant%' order by nspname`)
    expect(schemas.rows.map((r) => r.nspname)).toEqual(['tenant_e2e-schema'])
    const cpId = (await controlPlaneId(db))!
    expect(await controlPlaneTenantDatabases(db, cpId)).toEqual([`janua_${cpId}_e2e-database`])
    const rows = await db.query(`select slug from janua.tenants order by slug`)
    expect(rows.rows.map((r) => r.slug)).toEqual(['e2e-database', 'e2e-schema', 'e2e-shared'])
  })
})

describe('tenant drop', () => {
  it('without --yes and without a terminal: exit 2, the tenant is kept', async () => {
    const plain = await cli(['tenant', 'drop', 'e2e-schema'])
    expect(plain.code).toBe(2)
    expect(plain.stderr).toContain('--yes')
    expect(stackLines(plain.stderr)).toEqual([])
    const json = await cli(['tenant', 'drop', 'e2e-schema', '--json'])
    expect(json.code).toBe(2)
    expect(oneJson(json).error).toMatchObject({ exitCode: 2 })
    // CI unset but still no TTY: the same.
    const noCi = await cli(['tenant', 'drop', 'e2e-schema'], { CI: undefined })
    expect(noCi.code).toBe(2)

    const inspect = oneJson(await cli(['tenant', 'inspect', 'e2e-schema', '--json']))
    expect(inspect).toMatchObject({ slug: 'e2e-schema', status: 'active' })
    expect((await db.query(`select 1 from pg_namespace where nspname = 'tenant_e2e-schema'`)).rowCount).toBe(1)
  })

  it('with --yes --json: exit 0, the tenant is gone', async () => {
    const created = oneJson(await cli(['tenant', 'create', 'e2e-dropme', '--isolation', 'schema', '--json']))
    const r = await cli(['tenant', 'drop', 'e2e-dropme', '--yes', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(oneJson(r)).toMatchObject({ id: created.id, slug: 'e2e-dropme', dropped: true })
    expect((await db.query(`select 1 from pg_namespace where nspname = 'tenant_e2e-dropme'`)).rowCount).toBe(0)
    expect((await cli(['tenant', 'inspect', 'e2e-dropme', '--json'])).code).toBe(2)
  })
})

describe('the operator audit log', () => {
  it('records command names and exit codes, and never a password', async () => {
    const ok = await runCli(['tenant', 'list', '--json', '--database-url', urlWithPassword], { env: { DATABASE_URL: undefined, JANUA_DATABASE_URL: undefined } })
    expect(ok.code, ok.stderr).toBe(0)
    const existing = await runCli(['tenant', 'create', 'e2e-shared', '--database-url', urlWithPassword], { env: { DATABASE_URL: undefined, JANUA_DATABASE_URL: undefined } })
    expect(existing.code).toBe(2)

    const { rows } = await db.query<{ command: string; exit_code: number; args: string[]; error: string | null; actor: string; duration_ms: number }>(
      `select command, exit_code, args, error, actor, duration_ms from janua.audit_log order by id`,
    )
    const pairs = rows.map((r) => `${r.command} ${r.exit_code}`)
    expect(pairs).toContain('tenant create 0')
    expect(pairs).toContain('tenant list 0')
    expect(pairs).toContain('tenant inspect 0')
    expect(pairs).toContain('tenant drop 0')
    expect(pairs).toContain('tenant create 2')
    for (const r of rows) {
      expect(r.actor.length).toBeGreaterThan(0)
      expect(r.duration_ms).toBeGreaterThanOrEqual(0)
      expect(Array.isArray(r.args)).toBe(true)
    }
    const failed = rows.filter((r) => r.command === 'tenant create' && r.exit_code === 2)
    expect(failed.some((r) => r.error?.includes('already exists'))).toBe(true)
    // The URL given with --database-url is in the args, redacted.
    const withUrl = rows.filter((r) => r.args.some((a) => a.startsWith('postgres')))
    expect(withUrl.length).toBeGreaterThanOrEqual(2)

    const text = await db.query<{ t: string }>(`select coalesce(string_agg(row_to_json(a)::text, E'\\n'), '') as t from janua.audit_log a`)
    expect(text.rows[0]!.t).not.toContain(password)
    const ops = await db.query<{ t: string }>(`select coalesce(string_agg(row_to_json(o)::text, E'\\n'), '') as t from janua.operations o`)
    expect(ops.rows[0]!.t).not.toContain(password)
  })

  it('no CLI output of this file ever contained a password', () => {
    expect(allOutput.length).toBeGreaterThan(10)
    for (const out of allOutput) {
      expect(out).not.toContain(password)
    }
  })
})
