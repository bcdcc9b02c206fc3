import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { unsafeCharacterOf } from '../../src/sql/ident.js'
import { runCli, type CliResult } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { controlPlaneId, defaultTemplates, stackLines, templateFolder } from '../helpers/foundation.js'
import { escapeSequence, propertyRuns, validSlug, withControl } from '../helpers/properties.js'

/**
 * Bad input at the edge, through the built CLI: exit 2, one line naming what to fix (human and
 * --json), no raw control character echoed, and a catalog snapshot that shows nothing created.
 */
let db: TestDatabase
let cpId: string
const scratch: string[] = []
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  DATABASE_URL: db.url,
  JANUA_DATABASE_URL: undefined,
  JANUA_TEMPLATES: undefined,
  JANUA_APP_ROLE: undefined,
  ...extra,
})
const cli = (args: string[], options: { cwd?: string } = {}) => runCli(args, { env: env(), cwd: options.cwd })

/** What a create could leave behind: schemas, tenant databases, control-plane rows (not the audit log, which records refusals too). */
async function snapshot() {
  const schemas = (await db.query<{ nspname: string }>('select nspname from pg_namespace order by 1')).rows.map((r) => r.nspname)
  const databases = (await db.query<{ datname: string }>('select datname from pg_database where datname like $1 order by 1', [`janua_${cpId}_%`])).rows.map((r) => r.datname)
  const tenants = (await db.query('select slug, name, status, domain, plan, billing_email from janua.tenants order by slug')).rows
  const placements = (await db.query('select server, database, schema, kind, version from janua.placements order by id')).rows
  const servers = (await db.query('select name from janua.servers order by name')).rows
  const operations = (await db.query<{ n: string }>('select count(*) as n from janua.operations')).rows[0]!.n
  const leftovers = (await db.query<{ n: string }>('select count(*) as n from janua.leftovers')).rows[0]!.n
  return { schemas, databases, tenants, placements, servers, operations, leftovers }
}

/** exit 2 with one line naming the problem; in human mode the first stderr line is that line */
function expectUsage(r: CliResult, json: boolean, mentions?: string | RegExp) {
  expect(r.code, `${r.stdout}${r.stderr}`).toBe(2)
  expect(stackLines(r.stderr)).toEqual([])
  expect(unsafeCharacterOf(`${r.stdout}${r.stderr}`.replaceAll('\n', ' ')), 'raw control character in the output').toBeUndefined()
  let message: string
  if (json) {
    expect(r.json?.error, r.stdout).toMatchObject({ code: 'invalid_input', exitCode: 2 })
    message = r.json.error.message
  } else {
    // Progress lines (migrate) may come first; the error is one line, then its hint.
    const lines = r.stderr.trim().split('\n')
    const at = lines.findIndex((l) => l.startsWith('error '))
    expect(at, r.stderr).toBeGreaterThanOrEqual(0)
    expect(lines.slice(at + 1), r.stderr).toEqual(lines.slice(at + 1).filter((l) => l.startsWith('hint ')))
    message = lines[at]!.slice('error '.length)
  }
  expect(message).not.toContain('\n')
  if (mentions) expect(message).toMatch(typeof mentions === 'string' ? new RegExp(mentions.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : mentions)
  return message
}

beforeAll(async () => {
  db = await freshDatabase('edge')
  const r = await cli(['tenant', 'create', 'edge-base', '--json'])
  expect(r.code, r.stderr).toBe(0)
  cpId = (await controlPlaneId(db))!
})

afterAll(async () => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true })
  await db?.drop()
})

describe('each bad input of issue 10 exits 2 with one line and creates nothing', () => {
  const cases: [string, () => Promise<{ args: string[]; cwd?: string }>, string | RegExp][] = [
    [
      "--concurrency 0 keeps oclif's reason",
      async () => ({ args: ['tenant', 'migrate', '--concurrency', '0'] }),
      'Parsing --concurrency: Expected an integer greater than or equal to 1 but received: 0',
    ],
    ['--concurrency abc', async () => ({ args: ['tenant', 'migrate', '--concurrency', 'abc'] }), 'Expected an integer but received: abc'],
    [
      '"appRole": 5 in janua.config.json',
      async () => {
        const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-edge-config-'))
        scratch.push(cwd)
        fs.writeFileSync(path.join(cwd, 'janua.config.json'), JSON.stringify({ appRole: 5 }))
        return { args: ['tenant', 'list'], cwd }
      },
      '"appRole" must be a string, not number',
    ],
    [
      '--name with a terminal escape sequence',
      async () => ({ args: ['tenant', 'create', 'edge-esc', '--name', '\u001b[31mEvil\u001b[0m'] }),
      'the tenant name contains the control character U+001B',
    ],
    ['--billing-email with a newline', async () => ({ args: ['tenant', 'create', 'edge-mail', '--billing-email', 'a@b.example\nX-Injected: 1'] }), 'control character U+000A'],
    ['--billing-email without a domain', async () => ({ args: ['tenant', 'create', 'edge-mail', '--billing-email', 'nobody'] }), 'invalid email address "nobody"'],
    ['db verify --server typo', async () => ({ args: ['db', 'verify', '--server', 'typo'] }), 'unknown server "typo"'],
    ['tenant migrate --server typo', async () => ({ args: ['tenant', 'migrate', '--server', 'typo'] }), 'unknown server "typo"'],
    ['tenant list --server typo', async () => ({ args: ['tenant', 'list', '--server', 'typo'] }), 'unknown server "typo"'],
    ['tenant migrate --tenant typo', async () => ({ args: ['tenant', 'migrate', '--tenant', 'typo'] }), 'no tenant "typo"'],
    ['db verify --tenant typo', async () => ({ args: ['db', 'verify', '--tenant', 'typo'] }), 'no tenant "typo"'],
    [
      'a Latin-1 template file',
      async () => {
        const dir = templateFolder({ '0005_latin.sql': '' }, defaultTemplates)
        scratch.push(dir)
        fs.writeFileSync(path.join(dir, '0005_latin.sql'), Buffer.from("comment on schema public is 'caf\u00e9';\n", 'latin1'))
        return { args: ['tenant', 'create', 'edge-latin', '--templates', dir] }
      },
      /template file .*0005_latin\.sql is not valid UTF-8/,
    ],
    [
      'a template version above 2^31-1',
      async () => {
        const dir = templateFolder({ '2147483648_big.sql': 'select 1;\n' }, defaultTemplates)
        scratch.push(dir)
        return { args: ['tenant', 'create', 'edge-big', '--templates', dir] }
      },
      'version 2147483648 is out of range',
    ],
    [
      'a template symlink to nothing',
      async () => {
        const dir = templateFolder({}, defaultTemplates)
        scratch.push(dir)
        fs.symlinkSync(path.join(dir, 'gone.sql'), path.join(dir, '0005_gone.sql'))
        return { args: ['tenant', 'create', 'edge-link', '--templates', dir] }
      },
      /0005_gone\.sql is a symlink to .*gone\.sql, which cannot be read/,
    ],
  ]

  it.each(cases)('%s', async (_what, prepare, mentions) => {
    const before = await snapshot()
    const { args, cwd } = await prepare()
    expectUsage(await cli(args, { cwd }), false, mentions)
    expectUsage(await cli([...args, '--json'], { cwd }), true, mentions)
    expect(await snapshot()).toEqual(before)
  })

  it('a symlinked template file is followed: the tenant gets its version', async () => {
    const dir = templateFolder({}, defaultTemplates)
    scratch.push(dir)
    const shared = path.join(path.dirname(dir), `${path.basename(dir)}-shared.sql`)
    fs.writeFileSync(shared, 'create table linked_note (id bigint primary key, tenant_id uuid not null);\n')
    scratch.push(shared)
    fs.symlinkSync(shared, path.join(dir, '0005_linked.sql'))
    const r = await cli(['tenant', 'create', 'edge-linked', '--isolation', 'schema', '--templates', dir, '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.json).toMatchObject({ slug: 'edge-linked', version: 5 })
    const tables = await db.query('select 1 from pg_tables where schemaname = $1 and tablename = $2', ['tenant_edge-linked', 'linked_note'])
    expect(tables.rowCount).toBe(1)
    expect((await cli(['tenant', 'drop', 'edge-linked', '--yes', '--templates', dir])).code).toBe(0)
  })
})

describe('property: a bad tenant create input exits 2 and creates nothing', () => {
  it('bad slugs, names, emails, isolation levels and servers (bounded, seeded)', async () => {
    const badInput = fc.oneof(
      withControl(validSlug).map((slug) => ({ what: 'slug', args: [slug] })),
      fc.tuple(validSlug, fc.constantFrom('Upper', '1digit', 'under_score', 'trailing-', 'pg-reserved', 'a'.repeat(41))).map(([, slug]) => ({ what: 'slug', args: [slug] })),
      fc.tuple(validSlug, withControl(fc.string({ minLength: 1, maxLength: 12 }))).map(([slug, name]) => ({ what: 'name', args: [`p-${slug}`.slice(0, 40), '--name', name] })),
      fc
        .tuple(validSlug, fc.oneof(withControl(fc.emailAddress()), fc.constantFrom('no-at', 'two@@x.example', 'a@nodot')))
        .map(([slug, email]) => ({ what: 'email', args: [`p-${slug}`.slice(0, 40), '--billing-email', email] })),
      fc.tuple(validSlug, fc.constantFrom('rls', 'SCHEMA', 'db', '')).map(([slug, level]) => ({ what: 'isolation', args: [`p-${slug}`.slice(0, 40), '--isolation', level] })),
      fc.tuple(validSlug, fc.constantFrom('typo', 'Bad Name', 'x'.repeat(40))).map(([slug, server]) => ({ what: 'server', args: [`p-${slug}`.slice(0, 40), '--server', server] })),
      fc.tuple(validSlug, escapeSequence).map(([slug, esc]) => ({ what: 'domain', args: [`p-${slug}`.slice(0, 40), '--domain', `x${esc}.example`] })),
    )
    const before = await snapshot()
    await fc.assert(
      fc.asyncProperty(badInput, fc.boolean(), async ({ args }, json) => {
        const r = await cli(['tenant', 'create', ...args, ...(json ? ['--json'] : [])])
        expectUsage(r, json)
        expect(await snapshot()).toEqual(before)
      }),
      propertyRuns(8),
    )
  })
})
