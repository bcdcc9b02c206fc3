import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allOutput, runCli, type CliResult } from '../helpers/cli.js'
import { tempFolder } from '../helpers/foundation.js'
import { registerSecret } from '../helpers/secret-ledger.js'
import { startScramCluster, type ScramCluster } from '../helpers/scram-cluster.js'

/**
 * The commands of issue 13 as a runbook runs them (the built CLI), on a cluster that checks
 * passwords and logs every statement: each password appears once, in its one-time print, and in
 * nothing else — no other command's output, no error, not the server's log.
 */
let cluster: ScramCluster
const master = randomBytes(32).toString('base64')
const runs: { label: string; result: CliResult }[] = []
const ONE_TIME_PRINTS = new Set(['credentials', 'rotate'])

const cli = async (label: string, args: string[], extra: NodeJS.ProcessEnv = {}) => {
  const result = await runCli([...args, '--database-url', cluster.url('app')], {
    env: { DATABASE_URL: undefined, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: undefined, JANUA_MASTER_KEY: master, ...extra },
    // the one-time prints of a password stay out of the suite-wide secret ledger (and only they)
    showsSecret: ONE_TIME_PRINTS.has(label),
  })
  runs.push({ label, result })
  return result
}

async function connects(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url })
  try {
    await client.connect()
    await client.query('select count(*) from teams')
    return true
  } catch {
    // A refused login is the answer here, not an error of the test.
    return false
  } finally {
    // the login's own connection: a close error says nothing about the answer
    await client.end().catch(() => undefined)
  }
}

const passwordOf = (url: string) => decodeURIComponent(new URL(url).password)

beforeAll(async () => {
  cluster = await startScramCluster()
  registerSecret(master)
  registerSecret(passwordOf(cluster.url('app')))
  await cluster.query('create database app')
}, 60_000)
afterAll(() => cluster?.stop())

describe('tenant credentials, tenant key, tenant create --domain (CLI)', () => {
  const printed = {
    list: [] as { password: string; label: string }[],
    push: (p: { password: string; label: string }) => (registerSecret(p.password), printed.list.push(p)),
  }

  it('create with --domain and a master key; credentials prints a working connection string once', async () => {
    const created = await cli('create', ['tenant', 'create', 'ea', '--isolation', 'schema', '--domain', 'ea.example.com', '--json'])
    expect(created.code, created.stderr).toBe(0)
    const r = await cli('credentials', ['tenant', 'credentials', 'ea'])
    expect(r.code, r.stderr).toBe(0)
    const url = r.stdout.split('\n').find((l) => l.startsWith('postgresql://'))!
    expect(url).toMatch(/^postgresql:\/\/janua_[0-9a-f]{8}_t_ea_a:[^@]+@127\.0\.0\.1:\d+\/app$/)
    printed.push({ password: passwordOf(url), label: 'credentials' })
    expect(await connects(url)).toBe(true)
  })

  it('again without --rotate: exit 2; bad --grace: exit 2; a shared tenant: exit 2', async () => {
    expect((await cli('again', ['tenant', 'credentials', 'ea'])).code).toBe(2)
    const bad = await cli('bad-grace', ['tenant', 'credentials', 'ea', '--rotate', '--grace', 'soon'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--grace/)
    expect((await cli('create-shared', ['tenant', 'create', 'es', '--isolation', 'shared'])).code).toBe(0)
    const shared = await cli('shared', ['tenant', 'credentials', 'es', '--json'])
    expect(shared.code).toBe(2)
    expect(shared.json.error.hint).toMatch(/migrate-isolation/)
  })

  it('--rotate --grace 2s --json: the new password connects, the old one during the grace and not after', async () => {
    const r = await cli('rotate', ['tenant', 'credentials', 'ea', '--rotate', '--grace', '2s', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.rotated).toBe(true)
    printed.push({ password: r.json.password, label: 'rotate' })
    expect(passwordOf(r.json.connectionString)).toBe(r.json.password)
    const old = `postgresql://${encodeURIComponent(r.json.previous.role)}:${encodeURIComponent(printed.list[0]!.password)}@127.0.0.1:${cluster.port}/app`
    expect(await connects(r.json.connectionString)).toBe(true)
    expect(await connects(old)).toBe(true)
    await new Promise((res) => setTimeout(res, 2500))
    expect(await connects(old)).toBe(false)
    expect(await connects(r.json.connectionString)).toBe(true)
  })

  it('--output-file: written with mode 0600, only the path printed', async () => {
    const file = path.join(tempFolder('janua-cred-'), 'ea.url')
    const r = await cli('output-file', ['tenant', 'credentials', 'ea', '--rotate', '--grace', '0', '--output-file', file])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(file)
    expect(r.stdout).not.toContain('postgresql://')
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    const url = fs.readFileSync(file, 'utf8').trim()
    printed.push({ password: passwordOf(url), label: 'file' })
    expect(await connects(url)).toBe(true)
    const bad = await cli('output-file-bad', ['tenant', 'credentials', 'ea', '--rotate', '--output-file', '/nonexistent/dir/x'])
    expect(bad.code).toBe(2)
    expect(await connects(url)).toBe(true) // nothing changed
  })

  it('tenant key: prints the key; rotate adds a version; --version reads the old one; without a master key exit 2', async () => {
    const k1 = await cli('key', ['tenant', 'key', 'ea', '--json'])
    expect(k1.code, k1.stderr).toBe(0)
    expect(k1.json.version).toBe(1)
    expect(Buffer.from(k1.json.key, 'base64')).toHaveLength(32)
    const k2 = await cli('key-rotate', ['tenant', 'key', 'rotate', 'ea', '--json'])
    expect(k2.code, k2.stderr).toBe(0)
    expect(k2.json.versions).toEqual([1, 2])
    const old = await cli('key-v1', ['tenant', 'key', 'ea', '--version', '1'])
    expect(old.stdout.split('\n')[0]).toBe(k1.json.key)
    const none = await cli('key-nomaster', ['tenant', 'key', 'ea'], { JANUA_MASTER_KEY: undefined })
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/JANUA_MASTER_KEY/)
    const wrong = await cli('key-wrong', ['tenant', 'key', 'rotate', 'ea'], { JANUA_MASTER_KEY: randomBytes(32).toString('hex') })
    expect(wrong.code).toBe(2)
    expect((await cli('key-after-wrong', ['tenant', 'key', 'ea', '--json'])).json.versions).toEqual([1, 2])
  })

  it('other commands run alongside (inspect, list, verify, drop)', async () => {
    for (const args of [
      ['tenant', 'inspect', 'ea', '--json'],
      ['tenant', 'list'],
      ['db', 'verify', '--json'],
    ]) {
      const r = await cli(args.join(' '), args)
      expect(r.code, r.stderr).toBe(0)
    }
    const drop = await cli('drop', ['tenant', 'drop', 'ea', '--yes'])
    expect(drop.code, drop.stderr).toBe(0)
    const roles = await cluster.query(`select rolname from pg_roles where rolname like '%\\_t\\_ea%'`)
    expect(roles.rows).toEqual([])
  }, 120_000)

  it('no output of the suite contains a password except its one-time print; nor the server log, the audit log, the journal', async () => {
    expect(printed.list).toHaveLength(3)
    const oneTime: Record<string, string | undefined> = { credentials: 'credentials', rotate: 'rotate' }
    for (const { password, label } of printed.list) {
      const holders = runs.filter((r) => r.result.stdout.includes(password) || r.result.stderr.includes(password)).map((r) => r.label)
      expect(holders, label).toEqual(oneTime[label] ? [oneTime[label]] : [])
      expect(allOutput.filter((o) => o.includes(password))).toHaveLength(oneTime[label] ? 1 : 0)
      expect(cluster.log(), `server log: ${label}`).not.toContain(password)
    }
    const stored = JSON.stringify([(await cluster.query('select * from janua.audit_log', [], 'app')).rows, (await cluster.query('select * from janua.operations', [], 'app')).rows])
    for (const { password } of printed.list) expect(stored).not.toContain(password)
    // The statements that set them carried SCRAM verifiers only.
    expect(cluster.log()).toMatch(/alter role "janua_[0-9a-f]{8}_t_ea_[ab]" with login password 'SCRAM-SHA-256\$4096:/)
  })
})
