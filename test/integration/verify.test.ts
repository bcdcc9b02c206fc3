import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { initDb } from '../../src/core/control-plane.js'
import { createTenant } from '../../src/core/tenants.js'
import { verifyFleet, type VerifyReport } from '../../src/core/verify.js'
import { runCli } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { mapLimit } from '../helpers/foundation.js'

/** Each drift done by hand to one tenant, and the finding it must produce for that tenant only. */
const DRIFTS: { slug: string; sql: (s: string) => string; code: string; object: RegExp }[] = [
  { slug: 'dropped-index', sql: (s) => `drop index ${s}.users_tenant_status_idx`, code: 'drift/index', object: /users_tenant_status_idx/ },
  { slug: 'extra-index', sql: (s) => `create index hotfix_idx on ${s}.users (tenant_id, display_name)`, code: 'drift/index', object: /hotfix_idx/ },
  {
    slug: 'changed-index',
    sql: (s) => `drop index ${s}.users_tenant_status_idx; create index users_tenant_status_idx on ${s}.users (tenant_id, role)`,
    code: 'drift/index',
    object: /users_tenant_status_idx/,
  },
  {
    slug: 'dropped-fk',
    sql: (s) => `alter table ${s}.sessions drop constraint sessions_tenant_id_user_id_fkey`,
    code: 'drift/constraint',
    object: /sessions\.sessions_tenant_id_user_id_fkey/,
  },
  {
    slug: 'changed-fk',
    sql: (s) =>
      `alter table ${s}.sessions drop constraint sessions_tenant_id_user_id_fkey, add constraint sessions_tenant_id_user_id_fkey foreign key (tenant_id, user_id) references ${s}.users (tenant_id, id) on delete restrict`,
    code: 'drift/constraint',
    object: /sessions_tenant_id_user_id_fkey/,
  },
  { slug: 'rls-off', sql: (s) => `alter table ${s}.teams disable row level security`, code: 'lint/rls-disabled', object: /teams/ },
  { slug: 'no-force', sql: (s) => `alter table ${s}.teams no force row level security`, code: 'lint/rls-not-forced', object: /teams/ },
  { slug: 'dropped-policy', sql: (s) => `drop policy tenant_isolation on ${s}.roles`, code: 'drift/policy', object: /roles\.tenant_isolation/ },
  { slug: 'true-policy', sql: (s) => `alter policy tenant_isolation on ${s}.api_keys using (true)`, code: 'lint/policy-always-true', object: /api_keys\.tenant_isolation/ },
  { slug: 'column-type', sql: (s) => `alter table ${s}.users alter column display_name type varchar(50)`, code: 'drift/column', object: /users\.display_name/ },
  { slug: 'dropped-table', sql: (s) => `drop table ${s}.analytics_events`, code: 'drift/table', object: /analytics_events/ },
  { slug: 'public-select', sql: (s) => `grant select on ${s}.users to public`, code: 'drift/grant', object: /users to public/ },
  { slug: 'audit-update', sql: (s) => `grant update on ${s}.audit_logs to janua_app`, code: 'drift/grant', object: /audit_logs to janua_app/ },
]

describe('db verify', () => {
  let db: TestDatabase
  let janua: Janua

  beforeAll(async () => {
    db = await freshDatabase('verify')
    janua = await Janua.open({ databaseUrl: db.url })
    await initDb(janua)
    const specs = [
      { slug: 'clean-shared', isolation: 'shared' },
      { slug: 'clean-schema', isolation: 'schema' },
      { slug: 'clean-database', isolation: 'database' },
      ...DRIFTS.map((d) => ({ slug: d.slug, isolation: 'schema' })),
    ]
    await mapLimit(specs, 4, (spec) => createTenant(janua, spec))
  })
  afterAll(async () => {
    await janua?.close()
    await db?.drop()
  })

  const findingsOf = (report: VerifyReport, slug: string) => report.placements.filter((p) => p.tenants.includes(slug)).flatMap((p) => p.findings)

  it('a fresh fleet of all three levels verifies clean (exit 0)', async () => {
    const report = await verifyFleet(janua)
    expect(report.placements.flatMap((p) => p.findings)).toEqual([])
    expect(report.ok).toBe(true)
    expect(report.summary.groups).toHaveLength(1)
    expect(report.summary.groups[0]!.matchesTemplates).toBe(true)
    const cli = await runCli(['db', 'verify', '--json'], { env: { DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined } })
    expect(cli.code).toBe(0)
    expect(cli.json.ok).toBe(true)
    expect(cli.json.placements[0]).toHaveProperty('fingerprint')
  })

  it('reports each hand-made drift for its tenant only, with exit 3', async () => {
    for (const d of DRIFTS) await db.query(d.sql(`"tenant_${d.slug}"`))
    const report = await verifyFleet(janua)
    expect(report.ok).toBe(false)
    for (const d of DRIFTS) {
      const found = findingsOf(report, d.slug)
      expect(
        found.some((f) => f.code === d.code && d.object.test(f.object)),
        `${d.slug}: ${JSON.stringify(found, null, 1)}`,
      ).toBe(true)
    }
    for (const slug of ['clean-shared', 'clean-schema', 'clean-database']) expect(findingsOf(report, slug)).toEqual([])
    const changedFk = findingsOf(report, 'changed-fk').find((f) => f.code === 'drift/constraint')!
    expect(changedFk.change).toBe('different')
    expect(changedFk.expected).toMatch(/ON DELETE CASCADE/)
    expect(changedFk.actual).toMatch(/ON DELETE RESTRICT/)
    // the summary groups the fleet by fingerprint
    expect(report.summary.groups.find((g) => g.matchesTemplates)!.placements).toBe(4) // shared placement, clean schema and database tenants, template database

    const cli = await runCli(['db', 'verify', '--json'], { env: { DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined } })
    expect(cli.code).toBe(3)
    const gh = await runCli(['db', 'verify', '--format', 'github', '--tenant', 'dropped-index'], { env: { DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined } })
    expect(gh.code).toBe(3)
    expect(gh.stdout).toMatch(/^::error title=janua drift\/index::/m)
    // --tenant scopes the run; --ignore silences a code
    const scoped = await verifyFleet(janua, { tenants: ['true-policy'], ignore: ['lint/policy-always-true', 'drift/policy'] })
    expect(
      scoped.ok,
      JSON.stringify(
        scoped.placements.flatMap((p) => p.findings),
        null,
        1,
      ),
    ).toBe(true)
  })

  it('reports an orphan tenant schema and a tenant whose database was dropped', async () => {
    await db.query('create schema tenant_ghost')
    const { rows } = await db.query<{ value: string }>(`select value from janua.meta where key = 'id'`)
    await db.queryIn(db.admin.database ?? 'postgres', `drop database "janua_${rows[0]!.value}_clean-database" with (force)`)
    const report = await verifyFleet(janua)
    const all = report.placements.flatMap((p) => p.findings.map((f) => ({ ...f, tenants: p.tenants })))
    expect(all.some((f) => f.code === 'fleet/orphan' && /tenant_ghost/.test(f.object))).toBe(true)
    expect(all.some((f) => f.code === 'fleet/placement-missing' && f.tenants.includes('clean-database'))).toBe(true)
  })
})
