import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { initDb } from '../../src/core/control-plane.js'
import { migrateFleet } from '../../src/core/migrate.js'
import { verifyFleet } from '../../src/core/verify.js'
import { createTenant, inspectTenant, listTenants } from '../../src/core/tenants.js'
import { JanuaError } from '../../src/core/errors.js'
import { runCli } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { copyTemplates } from '../helpers/templates.js'
import { mapLimit } from '../helpers/foundation.js'

const SCHEMA_TENANTS = 200
const DATABASE_TENANTS = 20

const PHONE = `-- a column, an index, a policy change
alter table users add column phone text;
create index users_tenant_phone_idx on users (tenant_id, phone);
alter policy tenant_isolation on users to janua_app;
`

describe('tenant migrate across a fleet', () => {
  let db: TestDatabase
  let janua: Janua
  const templates = copyTemplates()

  const open = () => Janua.open({ databaseUrl: db.url, templates: templates.dir })
  const historyCount = async (database: string, schema: string, file: string) =>
    Number((await db.queryIn(database, `select count(*) as n from "${schema}".janua_template_history where file = $1`, [file])).rows[0].n)

  beforeAll(async () => {
    db = await freshDatabase('migrate')
    janua = await open()
    await initDb(janua)
    const specs = [
      ...Array.from({ length: SCHEMA_TENANTS }, (_, i) => ({ slug: `s${i}`, isolation: 'schema' })),
      ...Array.from({ length: DATABASE_TENANTS }, (_, i) => ({ slug: `d${i}`, isolation: 'database' })),
      ...Array.from({ length: 3 }, (_, i) => ({ slug: `sh${i}`, isolation: 'shared' })),
    ]
    await mapLimit(specs, 4, (spec) => createTenant(janua, spec))
  })
  afterAll(async () => {
    await janua?.close()
    await db?.drop()
    templates.remove()
  })

  it('plans without changing anything (--dry-run)', async () => {
    templates.add('0005_phone.sql', PHONE)
    await janua.close()
    janua = await open()
    const plan = await migrateFleet(janua, { dryRun: true })
    expect(plan.dryRun).toBe(true)
    const pending = plan.placements.filter((p) => p.pending.includes('0005_phone.sql'))
    // every tenant placement, the shared one, and the template database
    expect(pending.length).toBe(SCHEMA_TENANTS + DATABASE_TENANTS + 1 + 1)
    expect(pending.find((p) => p.kind === 'shared')!.tenants.sort()).toEqual(['sh0', 'sh1', 'sh2'])
    expect(await historyCount(db.name, 'tenant_s0', '0005_phone.sql')).toBe(0)
  })

  it('one conflicting tenant fails alone; a re-run after the fix migrates only it', async () => {
    await db.query('alter table tenant_s7.users add column phone text')
    const report = await migrateFleet(janua, { concurrency: 4 })
    expect(report.summary.failed).toBe(1)
    expect(report.summary.migrated).toBe(SCHEMA_TENANTS + DATABASE_TENANTS + 1 + 1 - 1)
    const failed = report.placements.find((p) => p.status === 'failed')!
    expect(failed.tenants).toEqual(['s7'])
    expect(failed.error!.file).toBe('0005_phone.sql')
    expect(failed.error!.line).toBe(2)
    expect(failed.error!.message).toMatch(/already exists/)
    expect(failed.error!.exitCode).toBe(1)

    for (const slug of ['s0', 's199', 'd3', 'sh1']) expect((await inspectTenant(janua, slug)).version).toBe(5)
    const s7 = await inspectTenant(janua, 's7')
    expect(s7.version).toBe(4)
    expect(s7.pending).toEqual(['0005_phone.sql'])
    expect(s7.lastMigration?.status).toBe('failed')
    expect((await listTenants(janua)).find((t) => t.slug === 'd3')!.version).toBe(5)
    // db init is unaffected: the shared placement is already current
    expect((await initDb(janua)).sharedPlacement.applied).toEqual([])

    await db.query('alter table tenant_s7.users drop column phone')
    const rerun = await migrateFleet(janua, {})
    expect(rerun.summary.migrated).toBe(1)
    expect(rerun.placements.filter((p) => p.status === 'migrated').map((p) => p.tenants)).toEqual([['s7']])
    expect((await inspectTenant(janua, 's7')).version).toBe(5)
    // a database tenant created now is cloned from the template database, already at 5
    expect((await createTenant(janua, { slug: 'late', isolation: 'database' })).version).toBe(5)
  })

  it('four processes at once apply each file to each placement exactly once', async () => {
    templates.add('0006_nickname.sql', 'alter table users add column nickname text;\n')
    const env = { DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: templates.dir }
    const runs = await Promise.all(Array.from({ length: 4 }, () => runCli(['tenant', 'migrate', '--json', '--concurrency', '3'], { env })))
    for (const run of runs) expect(run.code, run.stderr + run.stdout.slice(0, 2000)).toBe(0)
    const applied = runs.reduce((n, r) => n + r.json.summary.filesApplied, 0)
    expect(applied).toBe(SCHEMA_TENANTS + DATABASE_TENANTS + 1 + 1 + 1) // + tenant "late"
    expect(await historyCount(db.name, 'tenant_s3', '0006_nickname.sql')).toBe(1)
    expect(await historyCount(db.name, 'janua_shared', '0006_nickname.sql')).toBe(1)

    templates.add('0007_locale.sql', 'alter table users add column locale text;\n')
    const tiny = await Promise.all(Array.from({ length: 4 }, () => runCli(['tenant', 'migrate', '--json', '--lock-timeout', '1', '--concurrency', '4'], { env })))
    for (const run of tiny) expect([0, 4]).toContain(run.code)
    // whatever a lock timeout skipped, a plain re-run finishes; each file once per placement
    const finish = await runCli(['tenant', 'migrate', '--json'], { env })
    expect(finish.code).toBe(0)
    expect(await historyCount(db.name, 'tenant_s100', '0007_locale.sql')).toBe(1)
  })

  it('a no-transaction file lands with its history row and the version comment verify reads', async () => {
    templates.add('0008_locale_idx.sql', '-- janua:no-transaction\ncreate index concurrently if not exists users_tenant_locale_idx on users (tenant_id, locale);\n')
    await janua.close()
    janua = await open()
    const report = await migrateFleet(janua, { concurrency: 4 })
    expect(report.summary.failed).toBe(0)
    const history = await db.query(`select no_transaction, obj_description('tenant_s0.janua_template_history'::regclass, 'pg_class') as comment
                                      from tenant_s0.janua_template_history where file = '0008_locale_idx.sql'`)
    expect(history.rows).toEqual([{ no_transaction: true, comment: 'janua version 8' }])
    // A history table without the comment (written by an older janua) is read; a control plane
    // that records another version than the placement's is a finding for that tenant only.
    await db.query(`comment on table tenant_s1.janua_template_history is null`)
    await db.query(`update janua.placements set version = 7 where schema = 'tenant_s2'`)
    try {
      const verify = await verifyFleet(janua)
      const of = (slug: string) => verify.placements.find((p) => p.tenants.includes(slug))!
      expect(of('s1').version).toBe(8)
      expect(of('s1').findings.map((f) => f.code)).toEqual([])
      expect(of('s2').findings.map((f) => f.code)).toEqual(['fleet/version-mismatch'])
      expect(verify.placements.filter((p) => p.findings.some((f) => f.code === 'fleet/version-mismatch')).map((p) => p.tenants)).toEqual([['s2']])
      expect(new Set(verify.placements.filter((p) => ['schema', 'database', 'shared', 'template'].includes(p.kind)).map((p) => p.version))).toEqual(new Set([8]))
    } finally {
      await db.query(`update janua.placements set version = 8 where schema = 'tenant_s2'`)
    }
  })

  it('a placement locked by another run longer than --lock-timeout fails alone with exit 4', async () => {
    const pg = await import('pg')
    const holder = new pg.default.Client({ ...db.admin, database: db.name })
    await holder.connect()
    try {
      await holder.query(`select pg_advisory_lock(hashtextextended('janua:placement:tenant_s5', 0))`)
      templates.add('0009_bio.sql', 'alter table users add column bio text;\n')
      const run = await runCli(['tenant', 'migrate', '--json', '--lock-timeout', '300', '--tenant', 's5', '--tenant', 's6'], {
        env: { DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: templates.dir },
      })
      expect(run.code, run.stdout).toBe(4)
      const s5 = run.json.placements.find((p: { tenants: string[] }) => p.tenants.includes('s5'))
      expect(s5.status).toBe('failed')
      expect(s5.error.exitCode).toBe(4)
      expect(run.json.placements.find((p: { tenants: string[] }) => p.tenants.includes('s6')).status).toBe('migrated')
    } finally {
      await holder.end()
    }
  })

  it('an edited applied file stops the run before anything is applied (exit 6)', async () => {
    templates.add('0010_title.sql', 'alter table users add column title text;\n')
    templates.add('0005_phone.sql', `${PHONE}-- edited\n`)
    await janua.close()
    janua = await open()
    const error = await migrateFleet(janua, {}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(JanuaError)
    expect((error as JanuaError).exitCode).toBe(6)
    expect((error as JanuaError).message).toMatch(/0005_phone\.sql/)
    expect(await historyCount(db.name, 'tenant_s0', '0010_title.sql')).toBe(0)
    expect(await historyCount(db.name, 'janua_shared', '0010_title.sql')).toBe(0)
    const cli = await runCli(['tenant', 'migrate', '--json'], { env: { DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: templates.dir } })
    expect(cli.code).toBe(6)
    expect(cli.json.error.message).toMatch(/0005_phone\.sql/)
  })
})
