import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exportTenant, type ExportResult } from '../../src/core/archive/export.js'
import { importTenant } from '../../src/core/archive/import.js'
import { MAGIC } from '../../src/core/archive/format.js'
import { Janua } from '../../src/core/context.js'
import { JanuaError } from '../../src/core/errors.js'
import { updateTenant } from '../../src/core/lifecycle.js'
import { createTenant, dropTenant, listTenants, type Tenant } from '../../src/core/tenants.js'
import { runCli } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { adminClient, asApp, controlPlaneId, controlPlaneTenantDatabases, defaultTemplates, insertSampleRows, quoteIdent, templateFolder } from '../helpers/foundation.js'

const LEVELS = ['shared', 'schema', 'database'] as const
const short = { shared: 'sh', schema: 'sc', database: 'db' } as const

/** Export at each level -> import at each level (9 pairs), the exported tenant writing all along; refusals; a killed import. */
describe('tenant export / import', () => {
  let db: TestDatabase
  let janua: Janua
  let dir: string
  const clients = new Map<string, pg.Client>()
  const sources: Record<string, Tenant> = {}
  const archives: Record<string, { file: string; result: ExportResult; writesDuring: number }> = {}

  const clientFor = async (t: { placement: { database: string } }) => {
    let c = clients.get(t.placement.database)
    if (!c) {
      c = await adminClient(db, t.placement.database)
      clients.set(t.placement.database, c)
    }
    return c
  }
  /** Everything janua made for a slug: its control-plane row, its schema, its database. */
  const traces = async (slug: string) => {
    const { rows } = await db.query<{ n: number }>(
      `select (select count(*) from janua.tenants where slug = $1)::int + (select count(*) from pg_namespace where nspname = $2)::int
            + (select count(*) from pg_database where datname = $3)::int as n`,
      [slug, `tenant_${slug}`, `janua_${await controlPlaneId(db)}_${slug}`],
    )
    return rows[0]!.n
  }
  const refusal = async (p: Promise<unknown>) => {
    const error = await p.then(
      () => null,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(JanuaError)
    return error as JanuaError
  }

  beforeAll(async () => {
    db = await freshDatabase('archive')
    janua = await Janua.open({ databaseUrl: db.url })
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-archive-'))
    for (const level of LEVELS) {
      const t = await createTenant(janua, { slug: `src-${short[level]}`, isolation: level })
      sources[level] = t
      expect(await insertSampleRows(await clientFor(t), t.placement.schema, t.id)).toBeGreaterThan(20)
    }
    await updateTenant(janua, 'src-sc', { status: 'trial', plan: 'pro', limits: ['max_users=5'] })
    // A neighbour in the shared placement: its rows never travel with src-sh.
    const other = await createTenant(janua, { slug: 'neighbour', isolation: 'shared' })
    await insertSampleRows(await clientFor(other), other.placement.schema, other.id)
  }, 180_000)
  afterAll(async () => {
    for (const c of clients.values()) await c.end()
    await janua?.close()
    await db?.drop()
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  it('exports at each level while the tenant keeps writing (its writes are not blocked)', async () => {
    for (const level of LEVELS) {
      const t = sources[level]!
      const writer = await adminClient(db, t.placement.database)
      let writes = 0
      let stop = false
      const loop = (async () => {
        while (!stop) {
          await asApp(writer, t.placement.schema, t.id, () => writer.query(`insert into users (tenant_id, email) values ($1, $2)`, [t.id, `live${writes}@example.com`]))
          writes++
        }
      })()
      // The writer is running before the export starts.
      while (writes < 3) await new Promise((r) => setTimeout(r, 5))
      const file = path.join(dir, `${level}.janua.gz`)
      let first = -1
      const result = await exportTenant(janua, t.slug, {
        output: file,
        onEvent: (e) => {
          if (e.type === 'table' && first < 0) first = writes
        },
      })
      const writesDuring = writes - first
      stop = true
      await loop
      await writer.end()
      archives[level] = { file, result, writesDuring }
      expect(writesDuring, `writes during the export of ${level}`).toBeGreaterThan(0)
      expect(fs.existsSync(`${file}.partial`)).toBe(false)
      expect(result.tables.length).toBeGreaterThanOrEqual(20)
      expect(result.tables.find((x) => x.name === 'users')!.rows).toBeGreaterThan(3)
      expect(gunzipSync(fs.readFileSync(file)).subarray(0, MAGIC.length).equals(MAGIC)).toBe(true)
    }
  }, 120_000)

  for (const from of LEVELS) {
    it(`${from} -> shared, schema, database: identical rows and checksums in every table`, async () => {
      const archive = archives[from]!
      for (const to of LEVELS) {
        // The source's own level last, keeping its id once the source is dropped (a restore).
        if (to === from) continue
        const slug = `${short[from]}-to-${short[to]}`
        const imported = await importTenant(janua, { file: archive.file, as: slug, isolation: to, newId: true })
        expect(imported).toMatchObject({ slug, isolation: to, status: 'active', newId: true })
        expect(imported.id).not.toBe(sources[from]!.id)
        expect(imported.tables).toEqual(archive.result.tables)
        // Exported again from its new home: the same rows, table by table.
        const again = await exportTenant(janua, slug, { output: path.join(dir, `${slug}.janua.gz`) })
        expect(again.tables).toEqual(archive.result.tables)
      }
      await dropTenant(janua, sources[from]!.slug, { confirmed: true })
      const restored = await importTenant(janua, { file: archive.file })
      expect(restored).toMatchObject({ slug: sources[from]!.slug, id: sources[from]!.id, isolation: from, status: 'active', newId: false })
      const listed = (await listTenants(janua)).find((t) => t.slug === sources[from]!.slug)!
      if (from === 'schema') expect(listed).toMatchObject({ commercialStatus: 'trial', plan: 'pro', limits: { max_users: 5 } })
      const again = await exportTenant(janua, restored.slug, { output: path.join(dir, `${restored.slug}-again.janua.gz`) })
      expect(again.tables).toEqual(archive.result.tables)
      // The shared neighbour's rows stayed where they were, and none were copied.
      const c = await clientFor(sources.shared!)
      const { rows } = await c.query<{ n: number }>(`select count(distinct tenant_id)::int as n from janua_shared.users`)
      expect(rows[0]!.n).toBeGreaterThanOrEqual(2)
    }, 180_000)
  }

  it('refuses a tampered archive, one of other templates, one from a newer PostgreSQL major, and an existing id: exit 2, nothing created', async () => {
    const file = archives.schema!.file
    // One byte changed in a table's rows (the gzip itself re-made, so only janua's checksums can tell).
    const raw = gunzipSync(fs.readFileSync(file))
    const at = MAGIC.length + 3 + raw.readUInt16BE(MAGIC.length + 1) + 4 + 30
    const edited = Buffer.from(raw)
    edited[at] = edited[at]! ^ 0xff
    const tampered = path.join(dir, 'tampered.janua.gz')
    fs.writeFileSync(tampered, gzipSync(edited))
    let e = await refusal(importTenant(janua, { file: tampered, as: 'tampered', newId: true }))
    expect(e.exitCode).toBe(2)
    expect(e.message).toContain('damaged or was altered')
    expect(await traces('tampered')).toBe(0)
    // A byte of the compressed file changed.
    const bytes = fs.readFileSync(file)
    bytes[Math.floor(bytes.length / 2)] ^= 0x01
    const corrupt = path.join(dir, 'corrupt.janua.gz')
    fs.writeFileSync(corrupt, bytes)
    e = await refusal(importTenant(janua, { file: corrupt, as: 'corrupt', newId: true }))
    expect(e.exitCode).toBe(2)
    expect(await traces('corrupt')).toBe(0)
    // Other templates: 0001 changed.
    const other = templateFolder({}, defaultTemplates)
    fs.appendFileSync(path.join(other, '0001_identity.sql'), '\n-- changed\n')
    const j2 = await Janua.open({ databaseUrl: db.url, templates: other })
    try {
      e = await refusal(importTenant(j2, { file, as: 'othertpl', newId: true }))
      expect(e.exitCode).toBe(2)
      expect(e.message).toContain('0001_identity.sql')
      expect(await traces('othertpl')).toBe(0)
    } finally {
      await j2.close()
    }
    // An archive exported from a newer PostgreSQL major than this server's (manifest and its sha256 re-made).
    const plain = gunzipSync(fs.readFileSync(file))
    const end = plain.length - 33
    let m = end - 5
    while (!(plain[m] === 0x4d && plain.readUInt32BE(m + 1) === end - m - 5)) m--
    const manifest = JSON.parse(plain.subarray(m + 5, end).toString('utf8')) as { serverVersionNum: number }
    const ours = Math.floor(manifest.serverVersionNum / 10000)
    manifest.serverVersionNum = (ours + 1) * 10000
    const json = Buffer.from(JSON.stringify(manifest), 'utf8')
    const length = Buffer.alloc(4)
    length.writeUInt32BE(json.length)
    const newer = path.join(dir, 'newer-major.janua.gz')
    fs.writeFileSync(newer, gzipSync(Buffer.concat([plain.subarray(0, m), Buffer.from('M'), length, json, Buffer.from('E'), createHash('sha256').update(json).digest()])))
    e = await refusal(importTenant(janua, { file: newer, as: 'newer', newId: true }))
    expect(e.exitCode).toBe(2)
    expect(e.message).toBe(`the archive was exported from PostgreSQL ${ours + 1}; server primary runs PostgreSQL ${ours}`)
    expect(await traces('newer')).toBe(0)
    // The id exists (the restored src-sc): refused without --new-id, under any slug.
    e = await refusal(importTenant(janua, { file, as: 'sameid' }))
    expect(e.exitCode).toBe(2)
    expect(e.message).toContain('already exists')
    expect(await traces('sameid')).toBe(0)
  }, 120_000)

  it('an import killed with SIGKILL midway, then run again: succeeds, no orphan', async () => {
    const env = { DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: undefined }
    const file = archives.database!.file
    const args = ['tenant', 'import', file, '--as', 'killed', '--isolation', 'database', '--new-id', '--json']
    const killed = await runCli(args, { env: { ...env, JANUA_FAULT_KILL_AFTER: 'import-copied-table' } })
    expect(killed.code).not.toBe(0)
    const cp = (await controlPlaneId(db))!
    // What the kill left: a provisioning row and its database (rows not committed).
    expect((await db.query(`select status from janua.tenants where slug = 'killed'`)).rows).toEqual([{ status: 'provisioning' }])
    const again = await runCli(args, { env })
    expect(again.code, again.stderr).toBe(0)
    expect(again.json).toMatchObject({ slug: 'killed', status: 'active', isolation: 'database' })
    expect(again.json.tables).toEqual(archives.database!.result.tables)
    // One database for the slug, one control-plane row, no other tenant database than the tenants'.
    const tenantDbs = await controlPlaneTenantDatabases(db, cp)
    const tenants = await listTenants(janua)
    expect(tenantDbs.sort()).toEqual(
      tenants
        .filter((t) => t.isolation === 'database')
        .map((t) => t.placement.database)
        .sort(),
    )
    expect((await db.query(`select count(*)::int as n from janua.operations where status = 'running'`)).rows[0]).toEqual({ n: 0 })
    // A CLI export of it works too, with --json.
    const out = path.join(dir, 'killed-cli.janua.gz')
    const exported = await runCli(['tenant', 'export', 'killed', '--output', out, '--json'], { env })
    expect(exported.code, exported.stderr).toBe(0)
    expect(exported.json.tables).toEqual(archives.database!.result.tables)
    const refused = await runCli(['tenant', 'import', out, '--json'], { env })
    expect(refused.code).toBe(2)
    void quoteIdent
  }, 180_000)
})
