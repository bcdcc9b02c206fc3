import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { initDb } from '../../src/core/control-plane.js'
import { createTenant } from '../../src/core/tenants.js'
import { runCli } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { controlPlaneId, mapLimit } from '../helpers/foundation.js'
import { copyTemplates } from '../helpers/templates.js'

interface Outcome {
  kind: string
  tenants: string[]
  status: string
  error?: { message: string; exitCode: number }
}

/**
 * A tenant database dropped by hand (SQLSTATE 3D000 on connect, or the session terminated by
 * DROP DATABASE ... WITH (FORCE) mid-run) fails that placement alone: its neighbours on the same
 * server migrate, the run exits 1, and the message names the command that retires the tenant.
 */
describe('a tenant database dropped outside janua', () => {
  let db: TestDatabase
  let cpId: string
  const templates = copyTemplates()
  const env = () => ({ DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: templates.dir })
  const databaseOf = (slug: string) => `janua_${cpId}_${slug}`
  const bySlug = (placements: Outcome[], slug: string) => placements.find((p) => p.tenants.includes(slug))!

  beforeAll(async () => {
    db = await freshDatabase('missingdb')
    const janua = await Janua.open({ databaseUrl: db.url, templates: templates.dir })
    try {
      await initDb(janua)
      const specs = [
        ...['d1', 'd2', 'd3', 'd4'].map((slug) => ({ slug, isolation: 'database' })),
        ...['s1', 's2', 's3'].map((slug) => ({ slug, isolation: 'schema' })),
        { slug: 'sh1', isolation: 'shared' },
      ]
      await mapLimit(specs, 2, (spec) => createTenant(janua, spec))
    } finally {
      await janua.close()
    }
    cpId = (await controlPlaneId(db))!
  })
  afterAll(async () => {
    await db?.drop()
    templates.remove()
  })

  it('dropped before the run: only that placement fails (exit 1, with `janua tenant drop`), every neighbour on the server migrates', async () => {
    await db.query(`drop database "${databaseOf('d2')}" with (force)`)
    templates.add('0005_nickname.sql', 'alter table users add column nickname text;\n')
    const run = await runCli(['tenant', 'migrate', '--json'], { env: env() })
    expect(run.code, run.stdout.slice(0, 3000)).toBe(1)
    const placements = run.json.placements as Outcome[]
    const d2 = bySlug(placements, 'd2')
    expect(d2.status).toBe('failed')
    expect(d2.error!.exitCode).toBe(1)
    expect(d2.error!.message).toBe(
      `database ${databaseOf('d2')} of tenant d2 does not exist on server primary; it was dropped outside janua; restore it from a backup, or remove the tenant with \`janua tenant drop d2\``,
    )
    for (const p of placements.filter((x) => x !== d2)) expect(p.status, JSON.stringify(p)).toBe('migrated')
    expect(placements.filter((p) => p.kind === 'template')).toHaveLength(1)
    expect(run.json.summary).toMatchObject({ failed: 1, migrated: placements.length - 1 })

    // the text report says the same
    templates.add('0006_locale.sql', 'alter table users add column locale text;\n')
    const text = await runCli(['tenant', 'migrate'], { env: env() })
    expect(text.code).toBe(1)
    expect(text.stdout + text.stderr).toContain(`database ${databaseOf('d2')} of tenant d2 does not exist`)
    expect(text.stdout + text.stderr).not.toMatch(/unreachable/i)
  })

  it('`tenant drop` of the tenant whose database is gone succeeds', async () => {
    const drop = await runCli(['tenant', 'drop', 'd2', '--yes', '--json'], { env: env() })
    expect(drop.code, drop.stdout).toBe(0)
    expect((await db.query(`select 1 from janua.tenants where slug = 'd2'`)).rowCount).toBe(0)
    expect((await db.query(`select 1 from janua.placements where database = $1`, [databaseOf('d2')])).rowCount).toBe(0)
  })

  it('dropped while the run applies to it: that placement fails alone, the others on the server go on', async () => {
    // A slow file, so that the drop lands while a session of janua works in d3's database.
    templates.add('0007_slow.sql', 'select pg_sleep(1.5);\nalter table users add column bio text;\n')
    const running = runCli(['tenant', 'migrate', '--json', '--concurrency', '2'], { env: env() })
    let dropped = false
    for (let i = 0; i < 600 && !dropped; i++) {
      const busy = await db.query(`select 1 from pg_stat_activity where datname = $1 and query like '%pg_sleep%' and state = 'active'`, [databaseOf('d3')])
      if (busy.rowCount) {
        await db.query(`drop database "${databaseOf('d3')}" with (force)`)
        dropped = true
      } else await new Promise((r) => setTimeout(r, 50))
    }
    const run = await running
    expect(dropped, 'the drop landed while janua was applying to d3').toBe(true)
    expect(run.code, run.stdout.slice(0, 3000)).toBe(1)
    const placements = run.json.placements as Outcome[]
    const d3 = bySlug(placements, 'd3')
    expect(d3.status).toBe('failed')
    expect(d3.error!.exitCode).toBe(1)
    expect(d3.error!.message).toContain(`database ${databaseOf('d3')} of tenant d3 does not exist on server primary`)
    expect(d3.error!.message).toContain('`janua tenant drop d3`')
    for (const p of placements.filter((x) => x !== d3)) expect(p.status, JSON.stringify(p)).toBe('migrated')
    for (const slug of ['d1', 'd4']) {
      const columns = await db.queryIn(databaseOf(slug), `select 1 from information_schema.columns where table_schema = 'tenant' and table_name = 'users' and column_name = 'bio'`)
      expect(columns.rowCount, slug).toBe(1)
    }
    expect((await runCli(['tenant', 'drop', 'd3', '--yes'], { env: env() })).code).toBe(0)
  })

  it('a missing primary database is still exit 5, with the hint to check the URL', async () => {
    const url = new URL(db.url)
    url.pathname = `/${db.name}_nope`
    const run = await runCli(['tenant', 'list', '--json'], { env: { DATABASE_URL: url.toString(), JANUA_DATABASE_URL: undefined } })
    expect(run.code).toBe(5)
    expect(run.json.error.message).toContain('does not exist')
    expect(run.json.error.hint).toMatch(/database name in the URL/)
  })
})
