import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { parseIntoClientConfig } from 'pg-connection-string'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Janua } from '../../src/core/context.js'
import { initDb } from '../../src/core/control-plane.js'
import { ensureEmbedded, readEmbeddedState, stopEmbedded } from '../../src/core/embedded.js'
import { moveTenant } from '../../src/core/move/move.js'
import { createTenant, getTenant, type Tenant } from '../../src/core/tenants.js'
import { verifyFleet } from '../../src/core/verify.js'
import { runCli } from '../helpers/cli.js'
import { seedAsApp, snapshotTenant, tenantRowCount } from '../helpers/tenant-data.js'
import { expectedRows, startWriter, withoutUnknown, writerRowsAt, type TenantWriter } from '../helpers/tenant-writer.js'

/**
 * The online move with logical-decoding capture, on a server of this file's own started with
 * wal_level = logical (the suite's server has replica and must stay so): every write the tenant
 * committed during the move is at the target exactly once; the neighbours of a shared source write
 * on without one error (the row filter's column is in the replica identity); a kill at every new
 * step is resumed or aborted without loss, and no slot, publication, trigger or log is left.
 */
const DIRECTIONS = [
  ['shared', 'schema'],
  ['shared', 'database'],
  ['schema', 'shared'],
  ['schema', 'database'],
  ['database', 'shared'],
  ['database', 'schema'],
] as const

describe('online tenant move with logical capture and a concurrent writer', () => {
  let dir: string
  let url: string
  let admin: pg.ClientConfig
  let control: string
  let janua: Janua
  let neighbour: Tenant
  let neighbourWriter: TenantWriter
  const once = async <R extends pg.QueryResultRow>(database: string, text: string, values?: unknown[]) => {
    const c = new pg.Client({ ...admin, database })
    await c.connect()
    try {
      return await c.query<R>(text, values)
    } finally {
      await c.end()
    }
  }
  const env = () => ({ DATABASE_URL: url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: undefined })

  const placementOf = async (slug: string) => {
    const row = await getTenant(janua, slug)
    return { database: row.database, schema: row.schema, isolation: row.isolation, status: row.status }
  }
  const seeded = async (slug: string, isolation: string) => {
    const t = await createTenant(janua, { slug, isolation })
    await seedAsApp(admin, t.placement, t.id, 2)
    return t
  }
  /** Every janua capture object on the server: slots, publications, capture/fence triggers, log tables. */
  const captureLeftovers = async () => {
    const found: string[] = []
    found.push(...(await once<{ s: string }>('postgres', `select 'slot ' || slot_name as s from pg_replication_slots`)).rows.map((r) => r.s))
    const { rows } = await once<{ datname: string }>('postgres', `select datname from pg_database where datallowconn and not datistemplate`)
    for (const { datname } of rows) {
      const r = await once<{ what: string }>(
        datname,
        `select 'trigger ' || t.tgname || ' on ' || c.relname as what from pg_trigger t join pg_class c on c.oid = t.tgrelid
          where t.tgname like 'janua\\_capture\\_%' or t.tgname like 'janua\\_fence\\_%'
         union all
         select 'table ' || n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'janua_capture' and c.relname like 'log\\_%'
         union all
         select 'publication ' || pubname from pg_publication`,
      )
      found.push(...r.rows.map((x) => `${datname}: ${x.what}`))
    }
    return found
  }
  const sequencePastEveryRow = async (placement: { database: string; schema: string }, tenantId: string) => {
    const { rows } = await once<{ last: string | null; max: string | null }>(
      placement.database,
      `select (select last_value::text from pg_sequences where schemaname = $1 and sequencename = 'analytics_events_seq_seq') as last,
              (select max(seq)::text from "${placement.schema}".analytics_events where tenant_id = $2) as max`,
      [placement.schema, tenantId],
    )
    return BigInt(rows[0]!.last ?? '0') >= BigInt(rows[0]!.max ?? '0')
  }
  const settle = async (writer: TenantWriter, slug: string, tenantId: string) => {
    const now = await placementOf(slug)
    const found = await writerRowsAt(admin, now, tenantId)
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
  /** The operator's one-time setup for logical moves out of a shared placement: replica identity on the unique (tenant_id, id) index. */
  const identityWithTenant = async (placement: { database: string; schema: string }) => {
    const { rows } = await once<{ tbl: string; idx: string }>(
      placement.database,
      `select c.relname as tbl, ic.relname as idx from pg_index i join pg_class c on c.oid = i.indrelid join pg_class ic on ic.oid = i.indexrelid
         join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = $1 and i.indisunique and not i.indisprimary and i.indpred is null and i.indnatts = 2
          and (select array_agg(a.attname::text order by a.attname) from pg_attribute a where a.attrelid = c.oid and a.attnum = any(i.indkey)) = array['id', 'tenant_id']`,
      [placement.schema],
    )
    for (const r of rows) await once(placement.database, `alter table "${placement.schema}"."${r.tbl}" replica identity using index "${r.idx}"`)
    return rows.map((r) => r.tbl)
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-logical-'))
    fs.chmodSync(dir, 0o755)
    const server = await ensureEmbedded(dir, { settings: { wal_level: 'logical', max_replication_slots: '10', max_wal_senders: '10' } })
    admin = parseIntoClientConfig(server.url) as pg.ClientConfig
    control = `janua_test_logical_${randomBytes(4).toString('hex')}`
    await once('postgres', `create database "${control}"`)
    const u = new URL(server.url)
    u.pathname = `/${control}`
    url = u.toString()
    janua = await Janua.open({ databaseUrl: url })
    await initDb(janua)
    neighbour = await seeded('neighbour', 'shared')
    expect((await identityWithTenant(neighbour.placement)).length).toBeGreaterThan(5)
    neighbourWriter = startWriter(admin, control, neighbour.id)
  }, 180_000)
  afterAll(async () => {
    await neighbourWriter?.stop()
    await janua?.close()
    // The server is this file's: stop it even when a test failed; a failure to stop is printed.
    await stopEmbedded(dir).catch((error: unknown) => console.error(`could not stop the wal_level=logical server: ${String(error)}`))
    const pgDir = readEmbeddedState(dir)?.pgDir
    if (pgDir && !pgDir.startsWith(dir)) fs.rmSync(pgDir, { recursive: true, force: true })
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it.each(DIRECTIONS)(
    'moves a tenant %s -> %s with logical capture while it writes: every committed write at the target, neighbours write on',
    async (from: (typeof DIRECTIONS)[number][0], to: (typeof DIRECTIONS)[number][1]) => {
      const slug = `lg-${from}-${to}`
      const tenant = await seeded(slug, from)
      const writer = startWriter(admin, control, tenant.id)
      let report: Awaited<ReturnType<typeof moveTenant>>
      const steps: string[] = []
      try {
        await writer.commits(30)
        const t0 = Date.now()
        report = await moveTenant(janua, {
          slug,
          to,
          onEvent: (e) => {
            if (e.type !== 'table') steps.push(`${Date.now() - t0}ms ${e.type === 'step' ? `${e.step} ${e.state}` : `${e.phase} round ${e.entries} entries`}`)
          },
        })
        await writer.commits(10)
      } finally {
        await writer.stop()
      }
      const now = await settle(writer, slug, tenant.id)
      expect(report.step).toBe('done')
      expect(report.capture).toBe('logical')
      expect(report.verifiedBy).toBe('drained-keys')
      expect(now.isolation).toBe(to)
      expect(writer.stats.placements.length).toBeGreaterThanOrEqual(2)
      if (from === 'shared') expect(await tenantRowCount(admin, tenant.placement, tenant.id)).toBe(0)
      if (from === 'schema') expect((await once('postgres', 'select 1 from pg_namespace where nspname = $1', [tenant.placement.schema])).rowCount).toBe(0)
      if (from === 'database') expect((await once('postgres', 'select 1 from pg_database where datname = $1', [tenant.placement.database])).rowCount).toBe(0)
      expect(await captureLeftovers()).toEqual([])
      expect(neighbourWriter.stats.errors).toEqual([])
      const verdict = await verifyFleet(janua)
      expect(verdict.placements.flatMap((p) => p.findings)).toEqual([])
      console.log(
        `logical ${from} -> ${to}: fencedMs ${report.fencedMs} (${JSON.stringify(report.fence)}), writer: ${writer.stats.committed} commits, ${writer.stats.fenced} fenced retries, longest gap ${writer.stats.longestGapMs} ms; move ${report.durationMs} ms: ${steps.join(', ')}`,
      )
    },
  )

  const KILL_POINTS = ['capturing', 'copy-table', 'caught-up', 'fenced', 'drained'] as const
  it.each(KILL_POINTS)(
    'killed (SIGKILL) after %s while the tenant writes: --resume loses and duplicates nothing; --abort leaves no slot or publication',
    async (point: (typeof KILL_POINTS)[number]) => {
      for (const finish of ['--resume', '--abort'] as const) {
        const slug = `lk-${point}-${finish.slice(2)}`
        const from = (['shared', 'schema', 'database'] as const)[(KILL_POINTS.indexOf(point) + (finish === '--abort' ? 1 : 0)) % 3]
        const to = from === 'database' ? 'shared' : 'database'
        const tenant = await seeded(slug, from)
        const writer = startWriter(admin, control, tenant.id)
        let run: Awaited<ReturnType<typeof runCli>>
        try {
          await writer.commits(20)
          const killed = await runCli(['tenant', 'move', slug, '--to', to, '--capture', 'logical', '--yes', '--json'], { env: { ...env(), JANUA_FAULT_KILL_AFTER: point } })
          expect(killed.code, killed.stderr).not.toBe(0)
          const journaled = await runCli(['tenant', 'inspect', slug, '--json'], { env: env() })
          expect(journaled.json.move.step).toBe(point === 'copy-table' ? 'capturing' : point)
          if (point !== 'fenced' && point !== 'drained') await writer.commits(10)
          run = await runCli(['tenant', 'move', slug, finish, '--yes', '--json'], { env: env() })
          expect(run.code, run.stdout + run.stderr).toBe(0)
          await writer.commits(10)
        } finally {
          await writer.stop()
        }
        const now = await settle(writer, slug, tenant.id)
        expect(now.status).toBe('active')
        expect(now.isolation).toBe(finish === '--abort' ? from : to)
        expect(await captureLeftovers()).toEqual([])
        if (finish === '--abort') expect(run.json.aborted).toBe(true)
        else expect(run.json.capture).toBe('logical')
      }
      expect(neighbourWriter.stats.errors).toEqual([])
    },
    300_000,
  )

  it('a TRUNCATE during the move reaches the target as the removal of exactly the tenant rows it removed (never as a TRUNCATE)', async () => {
    const tenant = await seeded('lg-truncate', 'schema')
    const killed = await runCli(['tenant', 'move', 'lg-truncate', '--to', 'database', '--capture', 'logical', '--yes', '--json'], {
      env: { ...env(), JANUA_FAULT_KILL_AFTER: 'caught-up' },
    })
    expect(killed.code, killed.stderr).not.toBe(0)
    const { database, schema } = tenant.placement
    expect((await once<{ n: number }>(database, `select count(*)::int as n from "${schema}".analytics_events`)).rows[0]!.n).toBeGreaterThan(0)
    await once(database, `truncate "${schema}".analytics_events`)
    await once(database, `insert into "${schema}".analytics_events (tenant_id, event_name, properties) values ($1, 'after-truncate', '{}')`, [tenant.id])
    const source = await snapshotTenant(admin, tenant.placement, tenant.id)
    const resumed = await runCli(['tenant', 'move', 'lg-truncate', '--resume', '--yes', '--json'], { env: env() })
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0)
    expect(resumed.json.capture).toBe('logical')
    const target = resumed.json.to.placement
    expect((await snapshotTenant(admin, target, tenant.id)).tables).toEqual(source.tables)
    expect((await once<{ n: number }>(target.database, `select count(*)::int as n from "${target.schema}".analytics_events`)).rows[0]!.n).toBe(1)
    expect(await captureLeftovers()).toEqual([])
  })

  it('a shared table whose replica identity lacks tenant_id: logical refused in the plan, auto moves by trigger, no neighbour write fails', async () => {
    const tenant = await seeded('lg-identity', 'shared')
    await once(tenant.placement.database, `alter table "${tenant.placement.schema}".users replica identity default`)
    try {
      const plan = await runCli(['tenant', 'move', 'lg-identity', '--to', 'database', '--dry-run', '--json'], { env: env() })
      expect(plan.code, plan.stderr).toBe(0)
      expect(plan.json.plan.capture.mode).toBe('trigger')
      expect(plan.json.plan.capture.reason).toMatch(/replica identity of users does not cover tenant_id/)
      const forced = await runCli(['tenant', 'move', 'lg-identity', '--to', 'database', '--capture', 'logical', '--yes', '--json'], { env: env() })
      expect(forced.code).toBe(2)
      expect(forced.json.error.message).toMatch(/replica identity of users/)
      const writer = startWriter(admin, control, tenant.id)
      try {
        await writer.commits(20)
        const moved = await runCli(['tenant', 'move', 'lg-identity', '--to', 'database', '--yes', '--json'], { env: env() })
        expect(moved.code, moved.stdout + moved.stderr).toBe(0)
        expect(moved.json.capture).toBe('trigger')
        await writer.commits(10)
      } finally {
        await writer.stop()
      }
      await settle(writer, 'lg-identity', tenant.id)
      expect(neighbourWriter.stats.errors).toEqual([])
      expect(await captureLeftovers()).toEqual([])
    } finally {
      await identityWithTenant(tenant.placement)
    }
  })

  it('db status and db verify report a slot and a publication of no running move', async () => {
    const tenant = await seeded('lg-stray', 'schema')
    const suffix = tenant.id.replaceAll('-', '').slice(0, 16)
    await once(tenant.placement.database, `create publication janua_move_${suffix} for table "${tenant.placement.schema}".users with (publish = 'insert, update, delete')`)
    await once(tenant.placement.database, `select pg_create_logical_replication_slot('janua_move_${suffix}', 'pgoutput')`)
    try {
      const verify = await runCli(['db', 'verify', '--json'], { env: env() })
      const codes = verify.json.placements.flatMap((p: { findings: { code: string }[] }) => p.findings.map((f) => f.code))
      expect(codes).toContain('fleet/stray-slot')
      expect(codes).toContain('fleet/stray-publication')
      const status = await runCli(['db', 'status', '--json'], { env: env() })
      expect(JSON.stringify(status.json)).toContain(`janua_move_${suffix}`)
    } finally {
      await once(tenant.placement.database, `select pg_drop_replication_slot('janua_move_${suffix}')`)
      await once(tenant.placement.database, `drop publication janua_move_${suffix}`)
    }
  })
})
