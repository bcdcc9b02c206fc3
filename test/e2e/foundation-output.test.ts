import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allOutput, repoRoot, runCli, type CliResult } from '../helpers/cli.js'
import { registerSecret } from '../helpers/secret-ledger.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { ANSI, mapLimit, stackLines } from '../helpers/foundation.js'

let db: TestDatabase

const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: undefined, ...extra })
const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(args, { env: env(extra) })

function oneJson(r: CliResult): any {
  expect(r.json, `stdout is not one JSON document: ${r.stdout}\nstderr: ${r.stderr}`).toBeDefined()
  expect(r.stdout.trim().startsWith('{')).toBe(true)
  return r.json
}

beforeAll(async () => {
  db = await freshDatabase('out')
  const r = await cli(['tenant', 'create', 'out-shared', '--json'])
  expect(r.code, r.stderr).toBe(0)
})

afterAll(async () => {
  await db?.drop()
})

describe('an unreachable server', () => {
  const SECRET = 's3cretPw'
  const url = `postgres://u:${SECRET}@127.0.0.1:1/x`
  const noUrl = { DATABASE_URL: undefined, JANUA_DATABASE_URL: undefined }

  it('exits 5 and never prints the password (DATABASE_URL, JANUA_DATABASE_URL, --database-url; text and --json)', async () => {
    const runs: { label: string; args: string[]; env: NodeJS.ProcessEnv; json: boolean }[] = []
    for (const args of [
      ['tenant', 'list'],
      ['tenant', 'create', 'acme', '--isolation', 'database'],
      ['tenant', 'inspect', 'acme'],
      ['db', 'init'],
    ]) {
      for (const json of [false, true]) {
        runs.push({ label: `DATABASE_URL ${args.join(' ')}${json ? ' --json' : ''}`, args: json ? [...args, '--json'] : args, env: { ...noUrl, DATABASE_URL: url }, json })
      }
    }
    runs.push({ label: 'JANUA_DATABASE_URL over a good DATABASE_URL', args: ['tenant', 'list', '--json'], env: { JANUA_DATABASE_URL: url, DATABASE_URL: db.url }, json: true })
    runs.push({ label: '--database-url', args: ['tenant', 'list', '--database-url', url], env: noUrl, json: false })
    runs.push({ label: '--database-url --json', args: ['tenant', 'create', 'acme', '--json', '--database-url', url], env: noUrl, json: true })

    const results = await mapLimit(runs, 3, (run) => runCli(run.args, { env: run.env }))
    results.forEach((r, i) => {
      const { label, json } = runs[i]!
      expect(r.code, `${label}: ${r.stdout}${r.stderr}`).toBe(5)
      expect(r.stdout + r.stderr, label).not.toContain(SECRET)
      expect(stackLines(r.stderr), label).toEqual([])
      if (json) expect(oneJson(r).error, label).toMatchObject({ code: 'unreachable', exitCode: 5 })
      else expect(r.stderr, label).toMatch(/unreachable|refused/i)
    })
  })

  it('a key=value connection string or a multi-host URL: the password is never printed', async () => {
    const values = [
      `host=127.0.0.1 port=1 user=u password=${SECRET} dbname=x`,
      `host=127.0.0.1 port=1 user=u password='${SECRET}' dbname=x`,
      `postgres://u:${SECRET}@127.0.0.1:1,127.0.0.1:2/x`,
    ]
    const results = await mapLimit(values, 3, (value) => runCli(['tenant', 'list'], { env: { ...noUrl, DATABASE_URL: value } }))
    results.forEach((r, i) => {
      expect([2, 5], values[i]).toContain(r.code)
      expect(r.stdout + r.stderr, values[i]).not.toContain(SECRET)
      expect(stackLines(r.stderr)).toEqual([])
    })
  })
})

it('a key=value DATABASE_URL (libpq style, accepted by janua) reaches the server it names', async () => {
  const a = db.admin
  const parts = [`host=${a.host ?? '127.0.0.1'}`, `port=${a.port ?? 5432}`, `user=${a.user}`, `dbname=${db.name}`]
  if (a.password) parts.push(`password=${String(a.password)}`)
  const r = await runCli(['tenant', 'list', '--json'], { env: { DATABASE_URL: parts.join(' '), JANUA_DATABASE_URL: undefined } })
  expect(r.code, `${r.stdout}${r.stderr}`).toBe(0)
  expect(oneJson(r).tenants.map((t: any) => t.slug)).toEqual(['out-shared'])
})

describe('help', () => {
  const commandIds = (): string[][] => {
    const ids: string[][] = []
    const walk = (dir: string, prefix: string[]) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(path.join(dir, entry.name), [...prefix, entry.name])
        else if (entry.name.endsWith('.js')) ids.push([...prefix, entry.name.replace(/\.js$/, '')].filter((p) => p !== 'index'))
      }
    }
    walk(path.join(repoRoot, 'dist', 'commands'), [])
    return ids
  }

  it('the built CLI has the foundation commands', () => {
    const ids = commandIds().map((id) => id.join(' '))
    for (const id of ['db init', 'tenant create', 'tenant list', 'tenant inspect', 'tenant drop', 'dev start', 'dev stop', 'dev status', 'dev url']) {
      expect(ids).toContain(id)
    }
  })

  it('--help of every command shows EXAMPLES (and the --json flag)', async () => {
    const ids = commandIds()
    const results = await mapLimit(ids, 3, (id) => cli([...id, '--help']))
    results.forEach((r, i) => {
      const id = ids[i]!.join(' ')
      expect(r.code, id).toBe(0)
      expect(r.stdout, `${id} --help`).toContain('EXAMPLES')
      expect(r.stdout, `${id} --help`).toContain('--json')
    })
  })
})

describe('colour', () => {
  it('NO_COLOR=1: no ANSI escapes in output, errors or help', async () => {
    const commands = [
      ['tenant', 'list'],
      ['tenant', 'inspect', 'out-shared'],
      ['tenant', 'create', 'Acme'],
      ['tenant', 'create', '--help'],
      ['db', 'init'],
    ]
    const results = await mapLimit(commands, 3, (args) => cli(args, { NO_COLOR: '1' }))
    results.forEach((r, i) => {
      expect(r.stdout + r.stderr, commands[i]!.join(' ')).not.toMatch(ANSI)
      expect(r.stdout.length + r.stderr.length).toBeGreaterThan(0)
    })
  })

  it('NO_COLOR and TERM=dumb win over FORCE_COLOR (which otherwise colours the output), and --json is never coloured', async () => {
    // (piped, tenant list prints plain tab-separated rows: server list's table shows the colour)
    const coloured = await cli(['server', 'list'], { NO_COLOR: undefined, FORCE_COLOR: '1' })
    expect(coloured.stdout, 'FORCE_COLOR alone should colour the table header').toMatch(ANSI)

    const runs: { extra: NodeJS.ProcessEnv; args: string[] }[] = []
    for (const extra of [
      { NO_COLOR: '1', FORCE_COLOR: '1' },
      { NO_COLOR: undefined, TERM: 'dumb', FORCE_COLOR: '1' },
    ]) {
      for (const args of [
        ['tenant', 'list'],
        ['tenant', 'create', 'Acme'],
      ])
        runs.push({ extra, args })
    }
    runs.push({ extra: { NO_COLOR: undefined, FORCE_COLOR: '1' }, args: ['tenant', 'list', '--json'] })
    runs.push({ extra: { NO_COLOR: undefined, FORCE_COLOR: '1' }, args: ['tenant', 'create', 'Acme', '--json'] })
    const results = await mapLimit(runs, 3, (run) => cli(run.args, run.extra))
    results.forEach((r, i) => {
      expect(r.stdout + r.stderr, `${JSON.stringify(runs[i]!.extra)} ${runs[i]!.args.join(' ')}`).not.toMatch(ANSI)
    })
  })
})

it('no CLI output of this file ever contained a password', () => {
  expect(allOutput.length).toBeGreaterThan(10)
  const secrets = ['s3cretPw', ...(db.admin.password ? [String(db.admin.password)] : [])]
  secrets.forEach(registerSecret)
  for (const out of allOutput) for (const secret of secrets) expect(out).not.toContain(secret)
})
