import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { repoRoot, runCli } from '../helpers/cli.js'
import { validate, type Schema } from '../helpers/json-schema.js'
import { registerSecret } from '../helpers/secret-ledger.js'
import { stackLines } from '../helpers/foundation.js'

const schemaOf = (name: string) => JSON.parse(fs.readFileSync(path.join(repoRoot, 'docs', 'json', `${name}.schema.json`), 'utf8')) as Schema

/**
 * The README quick start: in an empty folder, with nothing configured, janua starts its own
 * PostgreSQL under ./.janua/, keeps it running, and the next command finds the same server.
 */
describe('the embedded default (README quick start)', () => {
  let folder: string
  const nothingConfigured = { DATABASE_URL: undefined, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: undefined, JANUA_APP_ROLE: undefined, PGPASSWORD: undefined }
  const cli = (args: string[]) => runCli(args, { cwd: folder, env: nothingConfigured })

  beforeAll(() => {
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-quickstart-'))
    fs.chmodSync(folder, 0o755)
  })

  afterAll(async () => {
    if (!folder) return
    try {
      await cli(['dev', 'stop'])
    } finally {
      let pgDir: string | undefined
      try {
        pgDir = (JSON.parse(fs.readFileSync(path.join(folder, '.janua', 'embedded.json'), 'utf8')) as { pgDir?: string }).pgDir
      } catch {
        /* never initialised */
      }
      if (pgDir && !pgDir.startsWith(folder)) fs.rmSync(pgDir, { recursive: true, force: true })
      fs.rmSync(folder, { recursive: true, force: true })
    }
  })

  it('tenant create acme --isolation schema --json works from an empty folder, at the newest version', async () => {
    expect(fs.readdirSync(folder)).toEqual([])
    const r = await cli(['tenant', 'create', 'acme', '--isolation', 'schema', '--json'])
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0)
    expect(r.json).toBeDefined()
    expect(r.json).toMatchObject({
      slug: 'acme',
      name: 'acme',
      status: 'active',
      isolation: 'schema',
      version: 4,
      placement: { server: 'primary', database: 'janua', schema: 'tenant_acme' },
    })
    expect(Object.keys(r.json).sort()).toEqual(['id', 'isolation', 'name', 'placement', 'schemaVersion', 'slug', 'status', 'version'])
    expect(r.stdout).not.toContain('embedded PostgreSQL')
    expect(stackLines(r.stderr)).toEqual([])
    expect(fs.existsSync(path.join(folder, '.janua'))).toBe(true)
    // The new server says so once, on stderr: where, which port, how to stop it (issue 15).
    const notes = r.stderr.split('\n').filter((l) => l.includes('embedded PostgreSQL'))
    expect(notes).toHaveLength(1)
    expect(notes[0]).toContain('started the embedded PostgreSQL in ')
    expect(notes[0]).toContain(`${path.sep}.janua on port`)
    expect(notes[0]).toMatch(/on port \d+; stop it with `janua dev stop`/)
  })

  it('from a subfolder, commands reach the same server and tenants (.janua/ is looked up to the repository root); nothing is announced again', async () => {
    fs.mkdirSync(path.join(folder, 'src', 'deep'), { recursive: true })
    const r = await runCli(['tenant', 'list', '--json'], { cwd: path.join(folder, 'src', 'deep'), env: nothingConfigured })
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.tenants.map((t: { slug: string }) => t.slug)).toEqual(['acme'])
    expect(r.stderr).not.toContain('embedded PostgreSQL')
    expect(fs.existsSync(path.join(folder, 'src', 'deep', '.janua'))).toBe(false)
    fs.rmSync(path.join(folder, 'src'), { recursive: true })
  })

  it('a second command in the same folder finds the same server and tenant', async () => {
    const r = await cli(['tenant', 'list', '--json'])
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0)
    expect(r.json.tenants.map((t: { slug: string }) => t.slug)).toEqual(['acme'])
    const inspect = await cli(['tenant', 'inspect', 'acme', '--json'])
    expect(inspect.code, inspect.stderr).toBe(0)
    expect(inspect.json).toMatchObject({ slug: 'acme', version: 4, pending: [] })
  })

  it('dev status --json says running; dev url prints no password', async () => {
    const status = await cli(['dev', 'status', '--json'])
    expect(status.code, status.stderr).toBe(0)
    expect(status.json).toMatchObject({ initialised: true, running: true, databaseSource: 'embedded' })
    expect(typeof status.json.port).toBe('number')
    expect(status.json.port).not.toBe(5432)

    const url = await cli(['dev', 'url', '--json'])
    expect(url.code, url.stderr).toBe(0)
    const state = JSON.parse(fs.readFileSync(path.join(folder, '.janua', 'embedded.json'), 'utf8')) as { password: string }
    registerSecret(state.password)
    expect(url.stdout + url.stderr + status.stdout).not.toContain(state.password)
    expect(url.json.url).toMatch(/^postgres:\/\/[^:@]+@127\.0\.0\.1:\d+\/janua$/)
    expect(validate(schemaOf('dev-url'), url.json)).toEqual([])
    expect(validate(schemaOf('dev-status'), status.json)).toEqual([])
  })

  it('dev stop stops it; dev status then says stopped, and the data is kept', async () => {
    const stop = await cli(['dev', 'stop', '--json'])
    expect(stop.code, stop.stderr).toBe(0)
    expect(stop.json).toMatchObject({ stopped: true })
    expect(validate(schemaOf('dev-stop'), stop.json)).toEqual([])
    const status = await cli(['dev', 'status', '--json'])
    expect(status.json).toMatchObject({ initialised: true, running: false })
    // The next command starts it again and finds the tenant.
    const list = await cli(['tenant', 'list', '--json'])
    expect(list.code, list.stderr).toBe(0)
    expect(list.json.tenants.map((t: { slug: string }) => t.slug)).toEqual(['acme'])
    // dev start on a running server says so and changes nothing.
    const start = await cli(['dev', 'start', '--json'])
    expect(start.code, start.stderr).toBe(0)
    expect(start.json).toMatchObject({ started: false })
    expect(validate(schemaOf('dev-start'), start.json)).toEqual([])
  })
})
