import type pg from 'pg'
import { sql } from 'kysely'
import { placementTables } from '../../catalog/tables.js'
import { inTransaction, withClient } from '../../db/connection.js'
import { isPgError, translateError } from '../../db/errors.js'
import { withAdvisoryLock } from '../../db/locks.js'
import type { IsolationLevel } from '../../db/schema.js'
import { ident, validateServerName } from '../../sql/ident.js'
import { applyPending, placementLockKey, readApplied, versionOf } from '../apply.js'
import type { Janua } from '../context.js'
import { createPlacementSchema, ensureControlPlane, requireControlPlane } from '../control-plane.js'
import { ExitCode, JanuaError, usageError } from '../errors.js'
import { databaseDriver, databaseExists, restrictDatabase } from '../isolation/database.js'
import { schemaDriver, schemaExists } from '../isolation/schema.js'
import { assertSharedCapable, sharedDriver } from '../isolation/shared.js'
import { DATABASE_TENANT_SCHEMA, describePlacement, type Placement } from '../placement.js'
import { getTenant, placementTaken, validateIsolation, withTenantLock } from '../tenants.js'
import { copyTable, readSequences, tableChecksum, tableShapes, writeSequences, type SequenceState } from './copy.js'
import { installFence, removeFence } from './fence.js'

/** Journaled steps, in order. Before 'switched' the source is authoritative; from it on, the target. */
export const MOVE_STEPS = ['planned', 'prepared', 'fenced', 'copied', 'verified', 'switched', 'source-removed', 'done'] as const
export type MoveStep = (typeof MOVE_STEPS)[number]
const after = (step: MoveStep, than: MoveStep) => MOVE_STEPS.indexOf(step) > MOVE_STEPS.indexOf(than)

export interface MoveTablePlan {
  name: string
  /** tenant: the tenant's rows; reference: template-owned rows, equal on both sides, not copied; whole: a table without tenant_id copied whole */
  mode: 'tenant' | 'reference' | 'whole'
  rows: number
  bytes: number
}

export interface MovePlan {
  tenant: { id: string; slug: string; name: string }
  from: { isolation: IsolationLevel; placement: Placement; placementId: string }
  to: { isolation: IsolationLevel; placement: Placement; placementId: string | null }
  version: number
  tables: MoveTablePlan[]
  keepSource: boolean
  steps: readonly MoveStep[]
}

export interface MoveReport {
  tenant: string
  from: { isolation: IsolationLevel; placement: Placement }
  to: { isolation: IsolationLevel; placement: Placement }
  version: number
  tables: { name: string; rows: number; checksum: string | null; mode: MoveTablePlan['mode']; bytes: number; copyMs: number }[]
  fencedMs: number | null
  copyMs: number | null
  durationMs: number
  step: MoveStep
  dryRun: boolean
  aborted: boolean
  resumed: boolean
  plan?: MovePlan
}

export type MoveEvent =
  | { type: 'step'; step: MoveStep | 'copy-table'; state: 'start' | 'done' }
  | { type: 'table'; name: string; rows: number; bytes: number; ms: number }

export interface MoveOptions {
  slug: string
  to?: string
  server?: string
  dryRun?: boolean
  keepSource?: boolean
  resume?: boolean
  abort?: boolean
  onEvent?: (event: MoveEvent) => void
}

interface Journal {
  opId: string
  plan: MovePlan
  step: MoveStep
  fencedAt?: number
  switchedAt?: number
  copyMs?: number
  results: Record<string, { rows: number; checksum: string | null; bytes: number; copyMs: number }>
  sequences?: SequenceState[]
}

/** Test hook: SIGKILL this process right after a step is journaled (fault tests of resume/abort). */
function faultPoint(point: string): void {
  if (process.env.JANUA_FAULT_KILL_AFTER === point) process.kill(process.pid, 'SIGKILL')
}

async function targetPlacementFor(janua: Janua, cpId: string, slug: string, to: IsolationLevel, server: string): Promise<Placement> {
  if (to === 'shared') return sharedDriver.placementFor(janua, cpId, slug, server)
  if (to === 'schema') return schemaDriver.placementFor(janua, cpId, slug, server)
  return databaseDriver.placementFor(janua, cpId, slug, server)
}

async function onPlacement<T>(janua: Janua, placement: Placement, fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  const client = await janua.conn.dedicatedClient(placement.server, placement.database)
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => {})
  }
}


/** Plan as data: what moves where, table by table; every refusal happens here, before any change. */
async function planMove(janua: Janua, cpId: string, options: MoveOptions): Promise<MovePlan> {
  const row = await getTenant(janua, options.slug)
  const to = validateIsolation(options.to)
  const server = validateServerName(options.server ?? row.server)
  if (row.status !== 'active') throw usageError(`tenant "${row.slug}" is ${row.status}`, `only an active tenant can be moved; see janua tenant inspect ${row.slug}`)
  if (to === row.isolation && server === row.server) {
    throw usageError(`tenant "${row.slug}" is already ${to} on server ${server}`, 'pick another --to level, or another --server')
  }
  const from: Placement = { server: row.server, database: row.database, schema: row.schema }
  const target = await targetPlacementFor(janua, cpId, row.slug, to, server)
  if (to !== 'shared' && (await placementTaken(janua, target, to))) {
    throw usageError(`the target ${describePlacement(target)} already exists`, 'it belongs to no tenant: inspect it, then drop it, and run the move again')
  }

  const source = await onPlacement(janua, from, async (client) => {
    const version = versionOf(await readApplied(client, from.schema))
    const tables = await placementTables(client, from.schema)
    const shapes = await tableShapes(client, from.schema, tables.map((t) => t.name))
    const facts: { name: string; hasTenantId: boolean; rows: number; foreign: number; bytes: number; checksum: string }[] = []
    for (const t of tables) {
      const shape = shapes.get(t.name)!
      const q = `${ident(from.schema)}.${ident(t.name)}`
      const counted = await client.query<{ n: number; foreign: number; bytes: number }>(
        t.hasTenantId
          ? `select count(*) filter (where tenant_id = $1)::bigint as n, count(*) filter (where tenant_id <> $1)::bigint as foreign, coalesce(sum(pg_column_size(x.*)) filter (where tenant_id = $1), 0)::bigint as bytes from ${q} x`
          : `select count(*)::bigint as n, 0 as foreign, coalesce(sum(pg_column_size(x.*)), 0)::bigint as bytes from ${q} x where $1::uuid is not null`,
        [row.id],
      )
      const checksum = t.hasTenantId ? '' : (await tableChecksum(client, from.schema, shape, null, shape.contentColumns)).checksum
      facts.push({ name: t.name, hasTenantId: t.hasTenantId, rows: Number(counted.rows[0]!.n), foreign: Number(counted.rows[0]!.foreign), bytes: Number(counted.rows[0]!.bytes), checksum })
    }
    return { version, facts, shapes }
  })

  // A dedicated placement whose tables hold rows of another tenant id would lose them when dropped.
  if (row.isolation !== 'shared') {
    const strays = source.facts.filter((f) => f.foreign > 0)
    if (strays.length) {
      throw usageError(`table(s) ${strays.map((f) => `${f.name} (${f.foreign} rows)`).join(', ')} of ${row.slug}'s placement hold rows of another tenant_id`,
        'these rows would be lost when the source is removed; move or delete them by hand first')
    }
  }

  let targetVersion: number | null = null
  let targetReference = new Map<string, { rows: number; checksum: string }>()
  if (to === 'shared') {
    await assertSharedCapable(janua, target)
    ;({ targetVersion, targetReference } = await onPlacement(janua, target, async (client) => {
      const version = versionOf(await readApplied(client, target.schema))
      const reference = new Map<string, { rows: number; checksum: string }>()
      for (const f of source.facts.filter((x) => !x.hasTenantId)) {
        const exists = await client.query('select to_regclass($1) as t', [`${ident(target.schema)}.${ident(f.name)}`])
        if (exists.rows[0]?.t) reference.set(f.name, await tableChecksum(client, target.schema, source.shapes.get(f.name)!, null, source.shapes.get(f.name)!.contentColumns))
      }
      return { targetVersion: version, targetReference: reference }
    }))
    if (targetVersion !== source.version) {
      throw usageError(`${row.slug} is at template version ${source.version} but the shared placement is at ${targetVersion}`,
        targetVersion < source.version ? 'bring the shared placement up first: janua tenant migrate --isolation shared' : `bring the tenant up first: janua tenant migrate --tenant ${row.slug}`)
    }
  }

  const tables: MoveTablePlan[] = source.facts.map((f) => {
    if (f.hasTenantId) return { name: f.name, mode: 'tenant', rows: f.rows, bytes: f.bytes }
    if (f.rows === 0) return { name: f.name, mode: 'reference', rows: 0, bytes: 0 }
    if (to === 'shared') {
      // Rows without tenant_id may go into a shared placement only if they are already there, identical (template reference data).
      const there = targetReference.get(f.name)
      if (!there || there.checksum !== f.checksum) {
        throw usageError(`table ${f.name} has no tenant_id and holds ${f.rows} row(s) that differ from the shared placement's, so they cannot be moved into a shared placement without being lost or mixed with other tenants'`,
          `move ${row.slug} to --to schema or --to database instead, or add tenant_id to ${f.name} in a new template`)
      }
      return { name: f.name, mode: 'reference', rows: f.rows, bytes: f.bytes }
    }
    // A placement of its own is built from the same templates: template-owned rows arrive with them.
    return { name: f.name, mode: row.isolation === 'shared' ? 'reference' : 'whole', rows: f.rows, bytes: f.bytes }
  })

  return {
    tenant: { id: row.id, slug: row.slug, name: row.name },
    from: { isolation: row.isolation, placement: from, placementId: String(row.placement_id) },
    to: { isolation: to, placement: target, placementId: null },
    version: source.version,
    tables,
    keepSource: !!options.keepSource,
    steps: MOVE_STEPS,
  }
}

async function setStep(janua: Janua, journal: Journal, step: MoveStep, trx = janua.db): Promise<void> {
  journal.step = step
  const { opId, ...detail } = journal
  await trx.updateTable('janua.operations').set({ step, detail: JSON.stringify(detail) }).where('id', '=', opId).execute()
}

async function unfinishedMove(janua: Janua, tenantId: string): Promise<Journal | undefined> {
  const op = await janua.db
    .selectFrom('janua.operations')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('kind', '=', 'tenant.move')
    .where('status', '=', 'running')
    .orderBy('id', 'desc')
    .executeTakeFirst()
  if (!op) return undefined
  const detail = op.detail as unknown as Omit<Journal, 'opId'>
  return { ...detail, opId: String(op.id), step: (op.step ?? 'planned') as MoveStep, results: detail.results ?? {} }
}

/** `janua tenant migrate-isolation`: plan, or run / resume / abort a journaled move. */
export async function moveTenant(janua: Janua, options: MoveOptions): Promise<MoveReport> {
  const started = Date.now()
  const cpId = options.dryRun ? await requireControlPlane(janua) : await ensureControlPlane(janua)
  const row = await getTenant(janua, options.slug)
  if (options.resume && options.abort) throw usageError('--resume and --abort exclude each other')

  return withTenantLock(janua, row.slug, async () => {
    const pending = await unfinishedMove(janua, row.id)
    if (options.resume || options.abort) {
      if (!pending) throw usageError(`tenant "${row.slug}" has no unfinished move`, 'start one with janua tenant migrate-isolation <slug> --to <level>')
      if (options.abort) {
        if (after(pending.step, 'verified')) {
          throw usageError(`the move of "${row.slug}" is past the switch: the target is authoritative and there is nothing to undo`, `finish it: janua tenant migrate-isolation ${row.slug} --resume`)
        }
        await abortMove(janua, pending)
        return report(pending, started, { aborted: true, resumed: false })
      }
      await runMove(janua, cpId, pending, options.onEvent)
      return report(pending, started, { aborted: false, resumed: true })
    }
    if (pending) {
      throw usageError(`tenant "${row.slug}" has an unfinished move (step ${pending.step}, to ${pending.plan.to.isolation})`,
        `finish it with --resume${after(pending.step, 'verified') ? '' : ' or undo it with --abort'}: janua tenant migrate-isolation ${row.slug} --resume`)
    }
    if (!options.to) throw usageError('--to is required', 'pass --to shared|schema|database')
    const plan = await planMove(janua, cpId, options)
    if (options.dryRun) {
      return { ...report({ opId: '', plan, step: 'planned', results: {} }, started, { aborted: false, resumed: false }), dryRun: true, plan }
    }
    const journal: Journal = { opId: '', plan, step: 'planned', results: {} }
    await janua.db.transaction().execute(async (trx) => {
      await trx.updateTable('janua.tenants').set({ status: 'moving', updated_at: new Date() }).where('id', '=', plan.tenant.id).execute()
      const op = await trx
        .insertInto('janua.operations')
        .values({ kind: 'tenant.move', tenant_id: plan.tenant.id, tenant_slug: plan.tenant.slug, placement_id: plan.from.placementId, status: 'running', step: 'planned', detail: JSON.stringify({ plan, step: 'planned', results: {} }), pid: process.pid })
        .returning('id')
        .executeTakeFirstOrThrow()
      journal.opId = String(op.id)
    })
    faultPoint('planned')
    try {
      await runMove(janua, cpId, journal, options.onEvent)
    } catch (error) {
      const failure = translateError(error)
      // Before the switch a failure undoes itself: the source stays authoritative and unfenced.
      if (!after(journal.step, 'verified')) {
        await abortMove(janua, journal, failure).catch(() => {})
        throw new JanuaError(`the move of ${plan.tenant.slug} failed and was undone; the tenant is unchanged at ${describePlacement(plan.from.placement)}: ${failure.message}`,
          failure.exitCode, failure.hint ?? 'fix the cause and run the move again')
      }
      throw new JanuaError(`the move of ${plan.tenant.slug} failed after the switch: ${failure.message}`, failure.exitCode, `the tenant now lives at ${describePlacement(plan.to.placement)}; finish with: janua tenant migrate-isolation ${plan.tenant.slug} --resume`)
    }
    return report(journal, started, { aborted: false, resumed: false })
  })
}

function report(journal: Journal, started: number, flags: { aborted: boolean; resumed: boolean }): MoveReport {
  const { plan } = journal
  return {
    tenant: plan.tenant.slug,
    from: { isolation: plan.from.isolation, placement: plan.from.placement },
    to: { isolation: plan.to.isolation, placement: plan.to.placement },
    version: plan.version,
    tables: plan.tables.map((t) => ({ name: t.name, mode: t.mode, rows: journal.results[t.name]?.rows ?? t.rows, checksum: journal.results[t.name]?.checksum ?? null, bytes: journal.results[t.name]?.bytes ?? t.bytes, copyMs: journal.results[t.name]?.copyMs ?? 0 })),
    fencedMs: journal.fencedAt ? (journal.switchedAt ?? Date.now()) - journal.fencedAt : null,
    copyMs: journal.copyMs ?? null,
    durationMs: Date.now() - started,
    step: journal.step,
    dryRun: false,
    ...flags,
  }
}

const tenantTablesOf = (plan: MovePlan) => plan.tables.filter((t) => t.mode === 'tenant').map((t) => t.name)

/** Carries a move from its journaled step to the end. Every step can run again after a kill. */
async function runMove(janua: Janua, cpId: string, journal: Journal, onEvent?: (e: MoveEvent) => void): Promise<void> {
  const { plan } = journal
  const step = async (name: MoveStep, fn: () => Promise<void>) => {
    if (MOVE_STEPS.indexOf(journal.step) >= MOVE_STEPS.indexOf(name)) return
    onEvent?.({ type: 'step', step: name, state: 'start' })
    await fn()
    onEvent?.({ type: 'step', step: name, state: 'done' })
    faultPoint(name)
  }

  await step('prepared', async () => {
    await prepareTarget(janua, plan)
    if (plan.to.isolation !== 'shared') {
      const p = await janua.db
        .insertInto('janua.placements')
        .values({ server: plan.to.placement.server, database: plan.to.placement.database, schema: plan.to.placement.schema, kind: plan.to.isolation, version: plan.version })
        .onConflict((oc) => oc.columns(['server', 'database', 'schema']).doUpdateSet({ version: plan.version, updated_at: sql`now()` }))
        .returning('id')
        .executeTakeFirstOrThrow()
      plan.to.placementId = String(p.id)
    } else {
      const p = await janua.db.selectFrom('janua.placements').select('id')
        .where('server', '=', plan.to.placement.server).where('database', '=', plan.to.placement.database).where('schema', '=', plan.to.placement.schema)
        .executeTakeFirstOrThrow()
      plan.to.placementId = String(p.id)
    }
    await setStep(janua, journal, 'prepared')
  })

  await step('fenced', async () => {
    await onPlacement(janua, plan.from.placement, (c) => inTransaction(c, () => installFence(c, plan.from.placement.schema, tenantTablesOf(plan), plan.tenant)))
    journal.fencedAt = Date.now()
    await setStep(janua, journal, 'fenced')
  })

  await step('copied', async () => {
    const t0 = Date.now()
    await copyAll(janua, journal, onEvent)
    journal.copyMs = Date.now() - t0
    await setStep(janua, journal, 'copied')
  })

  await step('verified', async () => {
    await verifyCopy(janua, journal)
    await setStep(janua, journal, 'verified')
  })

  await step('switched', async () => {
    journal.switchedAt = Date.now()
    // The switch: placement and journal step in one control-plane transaction.
    await janua.db.transaction().execute(async (trx) => {
      await trx.updateTable('janua.tenants').set({ isolation: plan.to.isolation, placement_id: plan.to.placementId!, updated_at: new Date() }).where('id', '=', plan.tenant.id).execute()
      await trx.updateTable('janua.placements').set({ version: plan.version, updated_at: sql`now()` }).where('id', '=', plan.to.placementId!).execute()
      await trx.updateTable('janua.operations').set({ placement_id: plan.to.placementId! }).where('id', '=', journal.opId).execute()
      await setStep(janua, journal, 'switched', trx)
    })
  })

  await step('source-removed', async () => {
    await removeSource(janua, cpId, plan)
    await setStep(janua, journal, 'source-removed')
  })

  await step('done', async () => {
    await janua.db.transaction().execute(async (trx) => {
      await trx.updateTable('janua.tenants').set({ status: 'active', updated_at: new Date() }).where('id', '=', plan.tenant.id).execute()
      journal.step = 'done'
      const { opId, ...detail } = journal
      await trx.updateTable('janua.operations').set({ step: 'done', status: 'succeeded', finished_at: new Date(), detail: JSON.stringify(detail) }).where('id', '=', opId).execute()
    })
  })
}

/** The target placement at exactly the source's template version (a failed earlier attempt is rebuilt). */
async function prepareTarget(janua: Janua, plan: MovePlan): Promise<void> {
  const target = plan.to.placement
  const where = `move target ${describePlacement(target)}`
  if (plan.to.isolation === 'shared') return
  if (plan.to.isolation === 'schema') {
    await withClient(await janua.conn.serverPool(target.server, target.database), async (client) => {
      await client.query(`drop schema if exists ${ident(target.schema)} cascade`)
      await createPlacementSchema(client, target.schema, janua.appRole)
      await applyPending(client, target.schema, janua.templates, { toVersion: plan.version, where })
    })
    return
  }
  await databaseDriver.remove(janua, { ...plan.tenant }, target)
  const adminPool = await janua.conn.adminPool(target.server)
  await withClient(adminPool, async (admin) => {
    await admin.query(`create database ${ident(target.database)}`)
    await restrictDatabase(admin, target.database, janua.appRole)
  })
  await onPlacement(janua, target, async (client) => {
    await client.query('revoke create on schema public from public')
    await createPlacementSchema(client, DATABASE_TENANT_SCHEMA, janua.appRole)
    await applyPending(client, target.schema, janua.templates, { toVersion: plan.version, where })
  })
}

/**
 * Copies every table in one target transaction (all or nothing), from one repeatable-read
 * snapshot of the source, parents before children. Rows a killed earlier attempt committed are
 * deleted first, so a re-run never duplicates.
 */
async function copyAll(janua: Janua, journal: Journal, onEvent?: (e: MoveEvent) => void): Promise<void> {
  const { plan } = journal
  const from = plan.from.placement
  const to = plan.to.placement
  await onPlacement(janua, from, async (source) => {
    // Holding the source placement's lock keeps `tenant migrate` from changing its tables mid-copy.
    await withAdvisoryLock(source, placementLockKey(from.schema), { what: describePlacement(from) }, async () => {
      await onPlacement(janua, to, async (target) => {
        const version = versionOf(await readApplied(source, from.schema))
        if (version !== plan.version) throw new JanuaError(`the source moved from version ${plan.version} to ${version} during the move`, ExitCode.failed, 'run the move again')
        const moving = plan.tables.filter((t) => t.mode !== 'reference')
        const shapes = await tableShapes(source, from.schema, moving.map((t) => t.name))
        await source.query('begin isolation level repeatable read read only')
        await target.query('begin')
        try {
          // Rows arrive in parent-first order but self-references (team trees) need no order at all:
          // the source satisfied every constraint, and unique keys are still enforced by the indexes.
          await target.query(`set local session_replication_role = replica`)
          for (const t of [...moving].reverse()) {
            await target.query(`delete from ${ident(to.schema)}.${ident(t.name)}${t.mode === 'tenant' ? ' where tenant_id = $1' : ' where $1::uuid is not null'}`, [plan.tenant.id])
          }
          for (const t of moving) {
            const t0 = Date.now()
            const result = await copyTable(source, target, from, to, shapes.get(t.name)!, t.mode === 'tenant' ? plan.tenant.id : null)
            journal.results[t.name] = { rows: result.rows, bytes: result.bytes, checksum: null, copyMs: Date.now() - t0 }
            onEvent?.({ type: 'table', name: t.name, rows: result.rows, bytes: result.bytes, ms: Date.now() - t0 })
            faultPoint('copy-table')
          }
          journal.sequences = await readSequences(source, from.schema, [...shapes.values()])
          await writeSequences(target, to.schema, journal.sequences, plan.to.isolation === 'shared')
          await target.query('commit')
        } catch (error) {
          await target.query('rollback').catch(() => {})
          if (isPgError(error) && error.code === '23505') {
            throw new JanuaError(`a key of ${plan.tenant.slug} already exists in the target (${error.detail ?? error.message}); nothing was switched`, ExitCode.failed,
              'the rows at the target belong to someone else: find them with the key above, resolve, and run the move again')
          }
          throw error
        } finally {
          await source.query('rollback').catch(() => {})
        }
      })
    })
  })
}

/** Row counts and content checksums per table, computed on both sides; any difference stops the move before the switch. */
async function verifyCopy(janua: Janua, journal: Journal): Promise<void> {
  const { plan } = journal
  const tables = plan.tables.filter((t) => t.mode !== 'reference')
  const shapesOf = (client: pg.ClientBase, schema: string) => tableShapes(client, schema, tables.map((t) => t.name))
  const side = async (placement: Placement) =>
    onPlacement(janua, placement, async (client) => {
      const shapes = await shapesOf(client, placement.schema)
      const sums = new Map<string, { rows: number; checksum: string }>()
      for (const t of tables) sums.set(t.name, await tableChecksum(client, placement.schema, shapes.get(t.name)!, t.mode === 'tenant' ? plan.tenant.id : null))
      return sums
    })
  const [source, target] = await Promise.all([side(plan.from.placement), side(plan.to.placement)])
  const mismatches = tables.filter((t) => source.get(t.name)!.checksum !== target.get(t.name)!.checksum)
  for (const t of tables) journal.results[t.name] = { ...(journal.results[t.name] ?? { bytes: 0, copyMs: 0 }), rows: target.get(t.name)!.rows, checksum: target.get(t.name)!.checksum }
  if (mismatches.length) {
    throw new JanuaError(`the copy of ${plan.tenant.slug} differs from the source in ${mismatches.map((t) => `${t.name} (source ${source.get(t.name)!.rows} rows, target ${target.get(t.name)!.rows})`).join(', ')}`,
      ExitCode.failed, 'nothing was switched; run the move again')
  }
}

/** After the switch: the source's rows, schema or database go (or are kept, renamed and fenced, with --keep-source). */
async function removeSource(janua: Janua, cpId: string, plan: MovePlan): Promise<void> {
  const from = plan.from.placement
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14)
  if (plan.from.isolation === 'shared') {
    if (!plan.keepSource) {
      await onPlacement(janua, from, (c) => inTransaction(c, async () => {
        await c.query('set local session_replication_role = replica')
        for (const t of [...plan.tables].reverse().filter((x) => x.mode === 'tenant')) {
          await c.query(`delete from ${ident(from.schema)}.${ident(t.name)} where tenant_id = $1`, [plan.tenant.id])
        }
        await removeFence(c, from.schema, tenantTablesOf(plan), plan.tenant.id)
      }))
    }
  } else if (plan.from.isolation === 'schema') {
    await withClient(await janua.conn.serverPool(from.server, from.database), async (c) => {
      if (plan.keepSource) {
        if (await schemaExists(c, from.schema)) await c.query(`alter schema ${ident(from.schema)} rename to ${ident(`janua_moved_${stamp}_${plan.tenant.slug}`.slice(0, 63))}`)
      } else await c.query(`drop schema if exists ${ident(from.schema)} cascade`)
    })
  } else {
    if (plan.keepSource) {
      const config = await janua.conn.serverConfig(from.server)
      await janua.conn.closeDatabase(config, from.database)
      const admin = await janua.conn.adminPool(from.server)
      await withClient(admin, async (c) => {
        if (await databaseExists(c, from.database)) await c.query(`alter database ${ident(from.database)} rename to ${ident(`janua_${cpId}__moved_${stamp}`)}`)
      })
    } else await databaseDriver.remove(janua, { ...plan.tenant }, from)
  }
  await janua.db.deleteFrom('janua.placements').where('id', '=', plan.from.placementId).where('kind', '<>', 'shared')
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('janua.tenants').select('id').whereRef('placement_id', '=', 'janua.placements.id'))))
    .execute()
}

/** Before the switch: remove what the move made at the target, lift the fence, keep the source. */
async function abortMove(janua: Janua, journal: Journal, cause?: unknown): Promise<void> {
  const { plan } = journal
  const to = plan.to.placement
  if (plan.to.isolation === 'shared') {
    await onPlacement(janua, to, (c) => inTransaction(c, async () => {
      await c.query('set local session_replication_role = replica')
      for (const t of [...plan.tables].reverse().filter((x) => x.mode === 'tenant')) {
        await c.query(`delete from ${ident(to.schema)}.${ident(t.name)} where tenant_id = $1`, [plan.tenant.id])
      }
    }))
  } else if (plan.to.isolation === 'schema') {
    await withClient(await janua.conn.serverPool(to.server, to.database), (c) => c.query(`drop schema if exists ${ident(to.schema)} cascade`))
  } else {
    await databaseDriver.remove(janua, { ...plan.tenant }, to)
  }
  if (plan.to.isolation !== 'shared') {
    await janua.db.deleteFrom('janua.placements').where('server', '=', to.server).where('database', '=', to.database).where('schema', '=', to.schema)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('janua.tenants').select('id').whereRef('placement_id', '=', 'janua.placements.id'))))
      .execute()
  }
  await onPlacement(janua, plan.from.placement, (c) => inTransaction(c, () => removeFence(c, plan.from.placement.schema, tenantTablesOf(plan), plan.tenant.id)))
  await janua.db.transaction().execute(async (trx) => {
    await trx.updateTable('janua.tenants').set({ status: 'active', updated_at: new Date() }).where('id', '=', plan.tenant.id).execute()
    await trx.updateTable('janua.operations')
      .set({ status: 'aborted', finished_at: new Date(), error: cause ? (cause instanceof Error ? cause.message : String(cause)) : 'aborted by --abort' })
      .where('id', '=', journal.opId).execute()
  })
}
