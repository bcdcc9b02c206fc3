import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { initDb } from '../../src/core/control-plane.js'
import { MOVE_STEPS, moveTenant } from '../../src/core/move/move.js'
import { createTenant, getTenant, type Tenant } from '../../src/core/tenants.js'
import { verifyFleet } from '../../src/core/verify.js'
import { runCli } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { templateFolder } from '../helpers/foundation.js'
import { seedAsApp, snapshotTenant, tenantRowCount } from '../helpers/tenant-data.js'
import { expectedRows, startWriter, withoutUnknown, writerRowsAt, type TenantWriter } from '../helpers/tenant-writer.js'

/**
 * The online move (trigger capture) while an application keeps writing the moving tenant: every
 * write it committed is at the target afterwards, exactly once; it saw no error but the fence's
 * 55000; a kill at any new step is resumed or aborted without loss and without leftovers.
 */
const DIRECTIONS = [
  ['shared', 'schema'],
  ['shared', 'database'],
  ['schema', 'shared'],
  ['schema', 'database'],
  ['database', 'shared'],
  ['database', 'schema'],
] as const

describe('online tenant move with a concurrent writer', () => {
  let db: TestDatabase
  let janua: Janua
  let neighbour: Tenant
  let neighbourBefore: Awaited<ReturnType<typeof snapshotTenant>>
  const env = () => ({ DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: undefined })

  const placementOf = async (slug: string) => {
    const row = await getTenant(janua, slug)
    return { database: row.database, schema: row.schema, isolation: row.isolation, status: row.status }
  }
  const seeded = async (slug: string, isolation: string) => {
    const t = await createTenant(janua, { slug, isolation })
    await seedAsApp(db.admin, t.placement, t.id, 2)
    return t
  }
  /** janua's capture and fence objects left on a server: triggers by name prefix, log tables */
  const captureLeftovers = async (databases: string[]) => {
    const found: string[] = []
    for (const database of databases) {
      const exists = await db.query('select 1 from pg_database where datname = $1', [database])
      if (!exists.rowCount) continue
      const { rows } = await db.queryIn<{ what: string }>(
        database,
        `select 'trigger ' || t.tgname || ' on ' || c.relname as what from pg_trigger t join pg_class c on c.oid = t.tgrelid
          where t.tgname like 'janua\\_capture\\_%' or t.tgname like 'janua\\_fence\\_%'
         union all
         select 'table ' || n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'janua_capture' and c.relname like 'log\\_%'`,
      )
      found.push(...rows.map((r) => `${database}: ${r.what}`))
    }
    return found
  }
  /** The tenant's rows other than the writer's (template seeds and sample rows): unchanged by the move. */
  const baseRows = async (placement: { database: string; schema: string }, tenantId: string) => {
    const snap = await snapshotTenant(db.admin, placement, tenantId)
    const c = new pg.Client({ ...db.admin, database: placement.database })
    await c.connect()
    try {
      const s = `"${placement.schema}"`
      for (const [table, writerRows] of [
        ['users', `email like 'w-%'`],
        ['sessions', `user_agent like 'writer%'`],
        ['analytics_events', `event_name = 'writer'`],
      ] as const) {
        const { rows } = await c.query<{ n: string; h: string | null }>(
          `select count(*) as n, md5(string_agg(md5(t::text), ',' order by md5(t::text))) as h from ${s}.${table} t where tenant_id = $1 and not (${writerRows})`,
          [tenantId],
        )
        snap.tables[table] = `${rows[0]!.n}:${rows[0]!.h}`
      }
      return snap.tables
    } finally {
      await c.end()
    }
  }
  /** The identity sequence of analytics_events at a placement is past every seq the tenant used. */
  const sequencePastEveryRow = async (placement: { database: string; schema: string }, tenantId: string) => {
    const { rows } = await db.queryIn<{ last: string | null; max: string | null }>(
      placement.database,
      `select (select last_value::text from pg_sequences where schemaname = $1 and sequencename = 'analytics_events_seq_seq') as last,
              (select max(seq)::text from "${placement.schema}".analytics_events where tenant_id = $2) as max`,
      [placement.schema, tenantId],
    )
    return BigInt(rows[0]!.last ?? '0') >= BigInt(rows[0]!.max ?? '0')
  }
  const writerFor = (tenantId: string) => startWriter(db.admin, db.name, tenantId)
  /** After the writer stopped: checks the target holds exactly what it committed. */
  const settle = async (writer: TenantWriter, slug: string, tenantId: string) => {
    const now = await placementOf(slug)
    const found = await writerRowsAt(db.admin, now, tenantId)
    expect(found.duplicates).toBe(0)
    const want = expectedRows(writer.model, writer.stats.unknown)
    const got = withoutUnknown(found, writer.stats.unknown)
    expect(got.users).toEqual(want.users)
    expect(got.sessions).toEqual(want.sessions)
    expect(got.events).toEqual(want.events)
    expect(writer.stats.errors).toEqual([])
    expect(await sequencePastEveryRow(now, tenantId)).toBe(true)
    return now
  }

  beforeAll(async () => {
    db = await freshDatabase('moveonline')
    janua = await Janua.open({ databaseUrl: db.url })
    await initDb(janua)
    neighbour = await seeded('neighbour', 'shared')
    neighbourBefore = await snapshotTenant(db.admin, neighbour.placement, neighbour.id)
  })
  afterAll(async () => {
    await janua?.close()
    await db?.drop()
  })

  it.each(DIRECTIONS)(
    'moves a tenant %s -> %s online while it writes: every committed write at the target, only 55000 seen',
    async (from: (typeof DIRECTIONS)[number][0], to: (typeof DIRECTIONS)[number][1]) => {
      const slug = `on-${from}-${to}`
      const tenant = await seeded(slug, from)
      const before = await baseRows(tenant.placement, tenant.id)
      const writer = writerFor(tenant.id)
      let report: Awaited<ReturnType<typeof moveTenant>>
      const steps: string[] = []
      try {
        await writer.commits(30) // rows that exist before the copy, then change during it
        const t0 = Date.now()
        report = await moveTenant(janua, {
          slug,
          to,
          onEvent: (e) => {
            if (e.type !== 'table') steps.push(`${Date.now() - t0}ms ${e.type === 'step' ? `${e.step} ${e.state}` : `${e.phase} round ${e.entries} entries`}`)
          },
        })
        await writer.commits(10) // and writes at the target after the switch
      } finally {
        await writer.stop()
      }
      const now = await settle(writer, slug, tenant.id)

      expect(report.step).toBe('done')
      expect(report.capture).toBe('trigger')
      expect(report.fencedMs).toBeGreaterThanOrEqual(0)
      // Inside the fence only counts and the rows drained since the clean comparison are checked.
      expect(report.verifiedBy).toBe('drained-keys')
      expect(report.fence).toMatchObject({ acquiredMs: expect.any(Number), drainedMs: expect.any(Number), verifiedMs: expect.any(Number), switchedMs: expect.any(Number) })
      expect(now.isolation).toBe(to)
      expect(writer.stats.placements.length).toBeGreaterThanOrEqual(2) // it wrote at the source, then at the target
      expect(await baseRows(now, tenant.id)).toEqual(before)
      // nothing left at the source, no capture object anywhere
      if (from === 'shared') expect(await tenantRowCount(db.admin, tenant.placement, tenant.id)).toBe(0)
      if (from === 'schema') expect((await db.query('select 1 from pg_namespace where nspname = $1', [tenant.placement.schema])).rowCount).toBe(0)
      if (from === 'database') expect((await db.query('select 1 from pg_database where datname = $1', [tenant.placement.database])).rowCount).toBe(0)
      expect(await captureLeftovers([db.name, tenant.placement.database, now.database])).toEqual([])
      expect((await snapshotTenant(db.admin, neighbour.placement, neighbour.id)).tables).toEqual(neighbourBefore.tables)
      const verdict = await verifyFleet(janua)
      expect(verdict.placements.flatMap((p) => p.findings)).toEqual([])
      console.log(
        `${from} -> ${to}: fencedMs ${report.fencedMs} (${JSON.stringify(report.fence)}), writer: ${writer.stats.committed} commits, ${writer.stats.fenced} fenced retries, longest gap ${writer.stats.longestGapMs} ms, stale ${writer.stats.stale}; move ${report.durationMs} ms: ${steps.join(', ')}`,
      )
    },
  )

  const KILL_POINTS = ['capturing', 'copied', 'caught-up', 'fenced', 'drained'] as const
  it('kill points are steps of the online move', () => {
    for (const p of KILL_POINTS) expect(MOVE_STEPS).toContain(p)
  })

  it.each(KILL_POINTS)(
    'killed (SIGKILL) after %s while the tenant writes: --resume loses and duplicates nothing; --abort leaves no capture behind',
    async (point: (typeof KILL_POINTS)[number]) => {
      for (const finish of ['--resume', '--abort'] as const) {
        const slug = `ok-${point}-${finish.slice(2)}`
        // one direction per kill point and finish, so every source kind is killed at some step
        const from = (['shared', 'schema', 'database'] as const)[(KILL_POINTS.indexOf(point) + (finish === '--abort' ? 1 : 0)) % 3]
        const to = from === 'database' ? 'shared' : 'database'
        const tenant = await seeded(slug, from)
        const before = await baseRows(tenant.placement, tenant.id)
        const writer = writerFor(tenant.id)
        let journaled: Awaited<ReturnType<typeof runCli>>
        let run: Awaited<ReturnType<typeof runCli>>
        try {
          await writer.commits(20)
          const killed = await runCli(['tenant', 'move', slug, '--to', to, '--yes', '--json'], { env: { ...env(), JANUA_FAULT_KILL_AFTER: point } })
          expect(killed.code, killed.stderr).not.toBe(0)
          journaled = await runCli(['tenant', 'inspect', slug, '--json'], { env: env() })
          expect(journaled.json.move.step).toBe(point)
          if (point === 'drained') {
            // Fenced and drained: the source is final and the target must equal it already.
            const target = journaled.json.move.to.placement
            expect((await snapshotTenant(db.admin, target, tenant.id)).tables).toEqual((await snapshotTenant(db.admin, tenant.placement, tenant.id)).tables)
          } else if (point !== 'fenced') {
            await writer.commits(10) // the tenant writes on while the move is dead
          }
          run = await runCli(['tenant', 'move', slug, finish, '--yes', '--json'], { env: env() })
          expect(run.code, run.stdout + run.stderr).toBe(0)
          await writer.commits(10)
        } finally {
          await writer.stop()
        }
        const now = await settle(writer, slug, tenant.id)
        expect(now.status).toBe('active')
        expect(now.isolation).toBe(finish === '--abort' ? from : to)
        expect(await baseRows(now, tenant.id)).toEqual(before)
        const target = journaled.json.move.to.placement
        expect(await captureLeftovers([db.name, tenant.placement.database, target.database])).toEqual([])
        if (finish === '--abort') {
          expect(run.json.aborted).toBe(true)
          if (to === 'shared') expect(await tenantRowCount(db.admin, target, tenant.id)).toBe(0)
          else expect((await db.query('select 1 from pg_database where datname = $1', [target.database])).rowCount).toBe(0)
        } else {
          expect(run.json.fencedMs).toBeGreaterThanOrEqual(0)
          if (from === 'shared') expect(await tenantRowCount(db.admin, tenant.placement, tenant.id)).toBe(0)
          else if (from === 'schema') expect((await db.query('select 1 from pg_namespace where nspname = $1', [tenant.placement.schema])).rowCount).toBe(0)
          else expect((await db.query('select 1 from pg_database where datname = $1', [tenant.placement.database])).rowCount).toBe(0)
        }
      }
      expect((await snapshotTenant(db.admin, neighbour.placement, neighbour.id)).tables).toEqual(neighbourBefore.tables)
    },
  )

  it('a template with a table without a primary key: the plan says capture none, and the move works offline', async () => {
    const dir = templateFolder({
      '0001_notes.sql': `create table notes (tenant_id uuid not null, body text not null);
create table tags (id int primary key, tenant_id uuid not null, label text);
`,
    })
    const other = await freshDatabase('moveonlinekeyless')
    const cliEnv = { DATABASE_URL: other.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: dir }
    try {
      const own = await Janua.open({ databaseUrl: other.url, templates: dir })
      try {
        await initDb(own)
        const t = await createTenant(own, { slug: 'keyless', isolation: 'schema' })
        await other.query(`insert into tenant_keyless.notes select $1, 'note ' || g from generate_series(1, 50) g`, [t.id])
        await other.query(`insert into tenant_keyless.tags select g, $1, 'tag ' || g from generate_series(1, 20) g`, [t.id])
        const before = await snapshotTenant(other.admin, t.placement, t.id)

        const plan = await runCli(['tenant', 'move', 'keyless', '--to', 'database', '--dry-run', '--json'], { env: cliEnv })
        expect(plan.code, plan.stderr).toBe(0)
        expect(plan.json.plan.capture.mode).toBe('none')
        expect(plan.json.plan.capture.reason).toMatch(/notes/)
        expect(plan.json.plan.steps).not.toContain('capturing')

        const forced = await runCli(['tenant', 'move', 'keyless', '--to', 'database', '--capture', 'trigger', '--yes', '--json'], { env: cliEnv })
        expect(forced.code).toBe(2)
        expect(forced.json.error.message).toMatch(/primary key/)
        expect((await other.query(`select count(*)::int as n from janua.operations where kind = 'tenant.move'`)).rows[0].n).toBe(0)

        const moved = await runCli(['tenant', 'move', 'keyless', '--to', 'database', '--yes', '--json'], { env: cliEnv })
        expect(moved.code, moved.stdout + moved.stderr).toBe(0)
        expect(moved.json.capture).toBe('none')
        expect(moved.json.fencedMs).toBeGreaterThanOrEqual(0)
        expect(moved.json.to.placement.database).not.toBe(t.placement.database)
        expect((await snapshotTenant(other.admin, moved.json.to.placement, t.id)).tables).toEqual(before.tables)
      } finally {
        await own.close()
      }
    } finally {
      await other.drop()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a row written past capture after the clean comparison (a superuser in replica mode): the counted round before the fence refuses, nothing switched', async () => {
    const t = await seeded('escape', 'shared')
    const rounds: string[] = []
    let escaped = false
    // Synchronous (a child process) so that it has committed before the move's next query.
    const escape = () =>
      execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import pg from 'pg'
           const c = new pg.Client({ connectionString: process.env.URL })
           await c.connect()
           // replica mode: row triggers (janua's capture among them) do not fire
           await c.query('set session_replication_role = replica')
           await c.query('insert into ${t.placement.schema}.users (tenant_id, email) values ($1, $2)', [process.env.TENANT, 'escaped@example.com'])
           await c.end()`,
        ],
        { env: { ...process.env, URL: db.url, TENANT: t.id }, stdio: 'pipe' },
      )
    let error: unknown
    try {
      await moveTenant(janua, {
        slug: 'escape',
        to: 'database',
        capture: 'trigger',
        onEvent: (e) => {
          if (e.type !== 'round') return
          rounds.push(e.phase)
          // right after the clean comparison: only the counted round can see it
          if (e.phase === 'clean' && !escaped) {
            escaped = true
            escape()
          }
        },
      })
    } catch (e) {
      error ??= e
    }
    expect(escaped).toBe(true)
    expect(String((error as Error)?.message)).toMatch(/differs from the source in users \(source \d+ rows, target \d+\)/)
    expect(rounds).toContain('counted')
    // the failed move undid itself: the tenant where it was, active, no capture left
    expect(await placementOf('escape')).toEqual({ database: t.placement.database, schema: t.placement.schema, isolation: 'shared', status: 'active' })
    expect(await captureLeftovers([t.placement.database])).toEqual([])
  })
})
