import type pg from 'pg'
import { sql } from 'kysely'
import { inTransaction } from '../../db/connection.js'
import { isPgError, translateError } from '../../db/errors.js'
import { withAdvisoryLock } from '../../db/locks.js'
import type { IsolationLevel } from '../../db/schema.js'
import { ident, literal } from '../../sql/ident.js'
import { placementLockKey, readApplied, versionOf } from '../apply.js'
import type { Janua } from '../context.js'
import { ensureControlPlane, requireControlPlane } from '../control-plane.js'
import { ExitCode, JanuaError, usageError } from '../errors.js'
import { faultPoint } from '../fault.js'
import { installFence, removeFence } from '../fence.js'
import { installTombstone, removeTombstone } from '../tombstone.js'
import { applyRound, installCapture, removeCapture, writeMarker, type RoundOptions } from './capture.js'
import { driverFor, isMissingDatabase } from '../isolation/index.js'
import { listLeftovers, recordLeftover, removeLeftover, type LeftoverOutcome } from '../leftovers.js'
import { describePlacement, type Placement } from '../placement.js'
import { getTenant, withTenantLock } from '../tenants.js'
import { followTenantAccess } from '../tenant-access.js'
import { abandonTransaction, copyTable, keysChecksum, readSequences, tableCount, tableChecksum, tableShapes, writeSequences, type SequenceState, type TableShape } from './copy.js'
import { gatherMoveFacts } from './facts.js'
import { createPublication, createSlotWithSnapshot, emitMarker, logicalRound, publicationName, removeLogical, slotName, type ExportedSnapshot } from './logical.js'
import { decideContinuation, decideMove, isAfter, type MovePlan, type MoveStep, type MoveTablePlan } from './plan.js'

export { MOVE_STEPS, OFFLINE_STEPS, type MovePlan, type MoveStep, type MoveTablePlan } from './plan.js'

export interface MoveReport {
  tenant: string
  from: { isolation: IsolationLevel; placement: Placement }
  to: { isolation: IsolationLevel; placement: Placement }
  version: number
  tables: { name: string; rows: number; checksum: string | null; mode: MoveTablePlan['mode']; bytes: number; copyMs: number }[]
  /** how long the tenant's writes were refused: from the fence request to the switch */
  fencedMs: number | null
  /** the fence's timeline, in ms from the fence request */
  fence: { acquiredMs: number; drainedMs: number | null; verifiedMs: number | null; switchedMs: number | null } | null
  capture: MovePlan['capture']['mode']
  /**
   * how the copy was verified inside the fence: 'drained-keys' (the rows of every key changed since
   * a clean full comparison before the fence; every table's count was compared at the last round
   * before the fence) or 'full' (every row's checksum)
   */
  verifiedBy: 'drained-keys' | 'full' | null
  copyMs: number | null
  durationMs: number
  step: MoveStep
  dryRun: boolean
  aborted: boolean
  resumed: boolean
  /** a source kept by --keep-source: where it is now (removed by `janua tenant cleanup` or `tenant drop`) */
  keptAs: Placement | null
  /** after --abort: what of the target could not be removed (server down), with the error; `janua tenant cleanup` removes it later */
  leftovers: LeftoverOutcome[]
  plan?: MovePlan
}

export type MoveEvent =
  | { type: 'step'; step: MoveStep | 'copy-table'; state: 'start' | 'done' }
  | { type: 'table'; name: string; rows: number; bytes: number; ms: number }
  /** clean: the round of the clean comparison; counted: the last round before the fence, with every table's count */
  | { type: 'round'; phase: RoundPhase; entries: number; keys: number; ms: number }

export type RoundPhase = 'catch-up' | 'clean' | 'counted' | 'drain'

export interface MoveOptions {
  slug: string
  /** 'auto' (default): trigger capture where every copied table has a primary key, else offline */
  capture?: string
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
  /** fence requested (writers start to queue) and acquired; drained, verified, switched: the fence's timeline */
  fenceRequestedAt?: number
  fencedAt?: number
  drainedAt?: number
  verifiedAt?: number
  switchedAt?: number
  copyMs?: number
  results: Record<string, { rows: number; checksum: string | null; bytes: number; copyMs: number }>
  sequences?: SequenceState[]
  /**
   * The last clean comparison before the fence (online moves): both sides equal at one source
   * snapshot. Inside the fence only the keys changed since are compared.
   */
  clean?: { at: number; tables: Record<string, { rows: number; checksum: string }> }
  /** keys the drain applied, per table; absent (or drainStarted without it) means the in-fence verify is a full one */
  drained?: Record<string, unknown[]>
  drainStarted?: boolean
  /** how the copy was verified inside the fence */
  verifiedBy?: 'drained-keys' | 'full'
  /** every copied table's count at the counted round, the last round before the fence (both sides equal there) */
  counted?: { at: number; tables: Record<string, number> }
  /** keys applied by the catch-up rounds after the clean comparison (verified in the fence with the drained ones); whether one replaced a truncated table */
  sinceClean?: Record<string, unknown[]>
  sinceCleanTruncated?: boolean
  /** logical capture: the slot and publication, journaled before they are created (abort and cleanup drop them by these names) */
  logical?: { slot: string; publication: string }
}

const tenantOf = (plan: MovePlan) => ({ ...plan.tenant })
const fromDriver = (plan: MovePlan) => driverFor(plan.from.isolation)
const toDriver = (plan: MovePlan) => driverFor(plan.to.isolation)
const tenantTablesOf = (plan: MovePlan) => plan.tables.filter((t) => t.mode === 'tenant').map((t) => t.name)
/** Tables without tenant_id copied whole (a placement of the tenant's own): fenced and captured for every row. */
const wholeTablesOf = (plan: MovePlan) => plan.tables.filter((t) => t.mode === 'whole').map((t) => t.name)
const copiedTablesOf = (plan: MovePlan) => plan.tables.filter((t) => t.mode !== 'reference').map((t) => t.name)

/** One catch-up round of trigger capture, source to target. */
async function captureRound<S = undefined, T = undefined>(
  janua: Janua,
  plan: MovePlan,
  phase: RoundPhase,
  onEvent?: (e: MoveEvent) => void,
  options: RoundOptions<S, T> & { marker?: string } = {},
) {
  const from = plan.from.placement
  const to = plan.to.placement
  const result = await fromDriver(plan).connect(janua, from, (source) =>
    toDriver(plan).connect(janua, to, async (target) => {
      const shapes = await tableShapes(source, from.schema, copiedTablesOf(plan))
      if (plan.capture.mode === 'logical') return logicalRound(source, target, from, to, shapes, plan.capture.tables, plan.tenant.id, options)
      return applyRound(source, target, from, to, shapes, plan.capture.tables, plan.tenant.id, options)
    }),
  )
  onEvent?.({ type: 'round', phase, entries: result.entries, keys: result.keys, ms: result.ms })
  return result
}

/** One figure per copied table on one side: of the tenant's rows, or of every row of a table without tenant_id. */
async function perTable<R>(
  client: pg.ClientBase,
  plan: MovePlan,
  schema: string,
  figure: (client: pg.ClientBase, schema: string, shape: TableShape, tenantId: string | null) => Promise<R>,
): Promise<Record<string, R>> {
  const tables = plan.tables.filter((t) => t.mode !== 'reference')
  const shapes = await tableShapes(
    client,
    schema,
    tables.map((t) => t.name),
  )
  const out: Record<string, R> = {}
  for (const t of tables) out[t.name] = await figure(client, schema, shapes.get(t.name)!, t.mode === 'tenant' ? plan.tenant.id : null)
  return out
}

/** Checksums of every copied table on one side. */
const sideSums = (client: pg.ClientBase, plan: MovePlan, schema: string) => perTable(client, plan, schema, (c, s, shape, id) => tableChecksum(c, s, shape, id))

/** Every copied table's row count on one side. */
const sideCounts = (client: pg.ClientBase, plan: MovePlan, schema: string) => perTable(client, plan, schema, tableCount)

/**
 * The clean comparison before the fence: one round applies everything logged up to a source
 * snapshot, and both sides are checksummed at exactly that state (the source inside the
 * snapshot, the target after the round committed). Equal: the target was the source at that
 * instant, so the fence only needs the keys changed since (every count is compared again at the
 * last round before the fence).
 */
async function cleanComparison(janua: Janua, journal: Journal, onEvent?: (e: MoveEvent) => void): Promise<void> {
  const { plan } = journal
  const r = await captureRound(janua, plan, 'clean', onEvent, {
    limit: null,
    inSnapshot: (source) => sideSums(source, plan, plan.from.placement.schema),
    afterApply: (target) => sideSums(target, plan, plan.to.placement.schema),
  })
  const source = r.inSnapshot!
  const target = r.afterApply!
  const differing = Object.keys(source).filter((t) => source[t]!.checksum !== target[t]?.checksum)
  if (differing.length)
    throw copyDiffers(
      plan,
      differing.map((t) => ({ name: t, source: source[t]!.rows, target: target[t]?.rows ?? 0 })),
    )
  journal.clean = { at: Date.now(), tables: source }
}

/**
 * Inside the fence, after a clean comparison and a counted round: the rows of every key applied
 * since the clean comparison (drained or caught up), on both sides. The work is proportional to
 * the changes, not to the tenant's size: every table's count was compared at the counted round,
 * the last one before the fence (at one source snapshot against the target after that round), and
 * since then only these keys changed. A journal without a counted round (written by an older
 * janua) counts every table here too.
 */
async function verifyDrained(janua: Janua, journal: Journal): Promise<void> {
  const { plan } = journal
  const keyOf = new Map(plan.capture.tables.map((t) => [t.name, t.key]))
  const tables = plan.tables.filter((t) => t.mode !== 'reference')
  const countHere = !journal.counted
  const side = (placement: Placement, isolation: IsolationLevel) =>
    driverFor(isolation).connect(janua, placement, async (client) => {
      const shapes = await tableShapes(
        client,
        placement.schema,
        tables.map((t) => t.name),
      )
      const facts = new Map<string, { rows: number | null; drained: string | null }>()
      for (const t of tables) {
        const tenant = t.mode === 'tenant' ? plan.tenant.id : null
        const keys = journal.drained![t.name]
        const drained = keys?.length ? (await keysChecksum(client, placement.schema, shapes.get(t.name)!, keyOf.get(t.name)!, keys, tenant)).checksum : null
        facts.set(t.name, { rows: countHere ? await tableCount(client, placement.schema, shapes.get(t.name)!, tenant) : null, drained })
      }
      return facts
    })
  const [source, target] = await Promise.all([side(plan.from.placement, plan.from.isolation), side(plan.to.placement, plan.to.isolation)])
  const mismatches = tables.filter((t) => source.get(t.name)!.rows !== target.get(t.name)!.rows || source.get(t.name)!.drained !== target.get(t.name)!.drained)
  const rowsOf = (t: string) => target.get(t)!.rows ?? journal.counted!.tables[t] ?? 0
  for (const t of tables)
    journal.results[t.name] = { ...(journal.results[t.name] ?? { bytes: 0, copyMs: 0 }), rows: rowsOf(t.name), checksum: journal.clean!.tables[t.name]?.checksum ?? null }
  if (mismatches.length)
    throw copyDiffers(
      plan,
      mismatches.map((t) => ({ name: t.name, source: source.get(t.name)!.rows ?? rowsOf(t.name), target: rowsOf(t.name) })),
    )
}

/** The one refusal of every comparison of source and target: nothing is switched. */
function copyDiffers(plan: MovePlan, tables: { name: string; source: number; target: number }[]): JanuaError {
  return new JanuaError(
    `the copy of ${plan.tenant.slug} differs from the source in ${tables.map((t) => `${t.name} (source ${t.source} rows, target ${t.target})`).join(', ')}`,
    ExitCode.failed,
    'nothing was switched; run the move again',
  )
}

/** Sequence positions after the drain: writes during the copy drew from the source's sequences. */
async function syncSequences(janua: Janua, journal: Journal): Promise<void> {
  const { plan } = journal
  await fromDriver(plan).connect(janua, plan.from.placement, async (source) => {
    const shapes = await tableShapes(source, plan.from.placement.schema, copiedTablesOf(plan))
    journal.sequences = await readSequences(source, plan.from.placement.schema, [...shapes.values()])
  })
  await toDriver(plan).connect(janua, plan.to.placement, (target) => writeSequences(target, plan.to.placement.schema, journal.sequences!, toDriver(plan).sharesPlacement))
}

async function setStep(janua: Janua, journal: Journal, step: MoveStep, trx = janua.db): Promise<void> {
  journal.step = step
  const { opId, ...detail } = journal
  await trx
    .updateTable('janua.operations')
    .set({ step, detail: JSON.stringify(detail) })
    .where('id', '=', opId)
    .execute()
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
  // Journals written before capture existed are offline moves.
  const plan = {
    ...detail.plan,
    keptAs: detail.plan.keptAs ?? null,
    capture: detail.plan.capture ?? { mode: 'none' as const, reason: 'journaled by an earlier janua', tables: [] },
  }
  return { ...detail, plan, opId: String(op.id), step: (op.step ?? 'planned') as MoveStep, results: detail.results ?? {} }
}

/** `janua tenant migrate-isolation`: gather facts, decide the plan (every refusal), then run, resume or abort the journaled move. */
export async function moveTenant(janua: Janua, options: MoveOptions): Promise<MoveReport> {
  const started = Date.now()
  if (options.dryRun) await requireControlPlane(janua)
  else await ensureControlPlane(janua)
  const row = await getTenant(janua, options.slug)
  const run = async (): Promise<MoveReport> => {
    const pending = await unfinishedMove(janua, row.id)
    const continuation = decideContinuation(row.slug, pending && { step: pending.step, to: pending.plan.to.isolation, steps: pending.plan.steps }, options)
    if (continuation === 'abort') {
      const leftovers = await abortMove(janua, pending!)
      return report(pending!, started, { aborted: true, resumed: false, leftovers })
    }
    if (continuation === 'resume') {
      await runMove(janua, pending!, options.onEvent)
      return report(pending!, started, { aborted: false, resumed: true })
    }
    // A suspension's fence and no-read guard belong to the placement: the move refuses a suspended tenant rather than carry them over.
    if (row.commercial_status === 'suspended')
      throw usageError(`tenant "${row.slug}" is suspended`, `resume it first (janua tenant resume ${row.slug}), move it, then suspend it again`)
    const plan = decideMove(await gatherMoveFacts(janua, await getTenant(janua, row.slug), options))
    if (options.dryRun) return { ...report({ opId: '', plan, step: 'planned', results: {} }, started, { aborted: false, resumed: false }), dryRun: true, plan }
    const journal = await startMove(janua, plan)
    faultPoint('planned')
    try {
      await runMove(janua, journal, options.onEvent)
    } catch (error) {
      throw await failedMove(janua, journal, translateError(error))
    }
    return report(journal, started, { aborted: false, resumed: false })
  }
  // A dry run changes nothing and takes no lock: it may run beside a live move.
  return options.dryRun ? run() : withTenantLock(janua, row.slug, run)
}

/** The plan is journaled (and the tenant marked moving) before anything is created: an abort or cleanup can always find the target. */
async function startMove(janua: Janua, plan: MovePlan): Promise<Journal> {
  const journal: Journal = { opId: '', plan, step: 'planned', results: {} }
  await janua.db.transaction().execute(async (trx) => {
    await trx.updateTable('janua.tenants').set({ status: 'moving', updated_at: new Date() }).where('id', '=', plan.tenant.id).execute()
    const op = await trx
      .insertInto('janua.operations')
      .values({
        kind: 'tenant.move',
        tenant_id: plan.tenant.id,
        tenant_slug: plan.tenant.slug,
        placement_id: plan.from.placementId,
        status: 'running',
        step: 'planned',
        detail: JSON.stringify({ plan, step: 'planned', results: {} }),
        pid: process.pid,
      })
      .returning('id')
      .executeTakeFirstOrThrow()
    journal.opId = String(op.id)
  })
  return journal
}

/** A failed move tells exactly where the tenant is: undone (source authoritative), not undone (still fenced), or past the switch. */
async function failedMove(janua: Janua, journal: Journal, failure: JanuaError): Promise<JanuaError> {
  const { plan } = journal
  const slug = plan.tenant.slug
  if (isAfter(journal.step, 'verified', plan.steps)) {
    return new JanuaError(
      `the move of ${slug} failed after the switch: ${failure.message}`,
      failure.exitCode,
      `the tenant now lives at ${describePlacement(plan.to.placement)}; finish with: janua tenant migrate-isolation ${slug} --resume`,
    )
  }
  // Before the switch a failure undoes itself: the source becomes authoritative again first.
  let leftovers: LeftoverOutcome[]
  try {
    leftovers = await abortMove(janua, journal, failure)
  } catch (undoError) {
    return new JanuaError(
      `the move of ${slug} failed (${failure.message}) and could not be undone (${translateError(undoError).message}): the tenant is still fenced at ${describePlacement(plan.from.placement)}`,
      failure.exitCode,
      `once ${plan.from.placement.server} is reachable: janua tenant migrate-isolation ${slug} --abort`,
    )
  }
  const left = leftovers.filter((l) => !l.removed)
  if (left.length) {
    return new JanuaError(
      `the move of ${slug} failed and was undone: the tenant is active at ${describePlacement(plan.from.placement)}, but the target ${left.map((l) => describePlacement(l.placement)).join(', ')} could not be removed (${left[0]!.error}): ${failure.message}`,
      failure.exitCode,
      `once ${left[0]!.placement.server} is reachable: janua tenant cleanup ${slug}`,
    )
  }
  return new JanuaError(
    `the move of ${slug} failed and was undone; the tenant is unchanged at ${describePlacement(plan.from.placement)}: ${failure.message}`,
    failure.exitCode,
    failure.hint ?? 'fix the cause and run the move again',
  )
}

function report(journal: Journal, started: number, flags: { aborted: boolean; resumed: boolean; leftovers?: LeftoverOutcome[] }): MoveReport {
  const { plan } = journal
  return {
    tenant: plan.tenant.slug,
    from: { isolation: plan.from.isolation, placement: plan.from.placement },
    to: { isolation: plan.to.isolation, placement: plan.to.placement },
    version: plan.version,
    tables: plan.tables.map((t) => ({
      name: t.name,
      mode: t.mode,
      rows: journal.results[t.name]?.rows ?? t.rows,
      checksum: journal.results[t.name]?.checksum ?? null,
      bytes: journal.results[t.name]?.bytes ?? t.bytes,
      copyMs: journal.results[t.name]?.copyMs ?? 0,
    })),
    fencedMs: journal.fenceRequestedAt ? (journal.switchedAt ?? Date.now()) - journal.fenceRequestedAt : null,
    fence: journal.fenceRequestedAt
      ? {
          acquiredMs: (journal.fencedAt ?? journal.fenceRequestedAt) - journal.fenceRequestedAt,
          drainedMs: journal.drainedAt ? journal.drainedAt - journal.fenceRequestedAt : null,
          verifiedMs: journal.verifiedAt ? journal.verifiedAt - journal.fenceRequestedAt : null,
          switchedMs: journal.switchedAt ? journal.switchedAt - journal.fenceRequestedAt : null,
        }
      : null,
    capture: plan.capture.mode,
    verifiedBy: journal.verifiedBy ?? null,
    copyMs: journal.copyMs ?? null,
    durationMs: Date.now() - started,
    step: journal.step,
    dryRun: false,
    aborted: flags.aborted,
    resumed: flags.resumed,
    keptAs: plan.keepSource ? plan.keptAs : null,
    leftovers: (flags.leftovers ?? []).filter((l) => !l.removed),
  }
}

/** Carries a move from its journaled step to the end. Every step can run again after a kill. */
async function runMove(janua: Janua, journal: Journal, onEvent?: (e: MoveEvent) => void): Promise<void> {
  const { plan } = journal
  const step = async (name: MoveStep, fn: () => Promise<void>) => {
    if (!plan.steps.includes(name) || plan.steps.indexOf(journal.step) >= plan.steps.indexOf(name)) return
    onEvent?.({ type: 'step', step: name, state: 'start' })
    await fn()
    onEvent?.({ type: 'step', step: name, state: 'done' })
    faultPoint(name)
  }

  await step('prepared', async () => {
    const to = toDriver(plan)
    // The target at exactly the source's template version; what a failed earlier attempt built is rebuilt.
    if (!to.sharesPlacement) await to.retire(janua, tenantOf(plan), plan.to.placement)
    await to.build(janua, plan.to.placement, { toVersion: plan.version })
    // A tenant coming back into a shared placement it once left is welcome there again.
    if (to.sharesPlacement) await to.connect(janua, plan.to.placement, (c) => removeTombstone(c, plan.tenant.id))
    const target = plan.to.placement
    const p = await janua.db
      .insertInto('janua.placements')
      .values({ server: target.server, database: target.database, schema: target.schema, kind: plan.to.isolation, version: plan.version })
      .onConflict((oc) => oc.columns(['server', 'database', 'schema']).doUpdateSet({ updated_at: sql`now()` }))
      .returning('id')
      .executeTakeFirstOrThrow()
    plan.to.placementId = String(p.id)
    await setStep(janua, journal, 'prepared')
  })

  const fence = async () => {
    journal.fenceRequestedAt = Date.now()
    await fromDriver(plan).connect(janua, plan.from.placement, (c) =>
      inTransaction(c, () => installFence(c, plan.from.placement.schema, tenantTablesOf(plan), plan.tenant, wholeTablesOf(plan))),
    )
    journal.fencedAt = Date.now()
    await setStep(janua, journal, 'fenced')
  }
  // Logical capture: the slot's exported snapshot, alive while its replication connection is open (this run only).
  let exported: ExportedSnapshot | undefined
  const copy = async () => {
    const t0 = Date.now()
    // A slot whose snapshot died with a killed run is made again: nothing of it was applied yet.
    if (plan.capture.mode === 'logical' && !exported) exported = await createSlotWithSnapshot(janua, plan.from.placement, plan.tenant.id)
    try {
      await copyAll(janua, journal, onEvent, exported?.snapshot)
    } finally {
      await exported?.close()
      exported = undefined
    }
    journal.copyMs = Date.now() - t0
    await setStep(janua, journal, 'copied')
  }

  // Online: capture first, copy under a snapshot taken after it (logical: the slot's own), catch up while the tenant writes on.
  await step('capturing', async () => {
    if (plan.capture.mode === 'logical') {
      // Journaled before created: an abort or a cleanup drops them by these names.
      journal.logical = { slot: slotName(plan.tenant.id), publication: publicationName(plan.tenant.id) }
      await setStep(janua, journal, journal.step)
      await fromDriver(plan).connect(janua, plan.from.placement, (c) =>
        createPublication(c, plan.from.placement.schema, plan.capture.tables, plan.tenant.id, !!plan.capture.rowFilter),
      )
      exported = await createSlotWithSnapshot(janua, plan.from.placement, plan.tenant.id)
    } else {
      await fromDriver(plan).connect(janua, plan.from.placement, (c) => inTransaction(c, () => installCapture(c, plan.from.placement.schema, plan.capture.tables, plan.tenant.id)))
    }
    await setStep(janua, journal, 'capturing')
  })
  if (plan.capture.mode === 'none') await step('fenced', fence)
  await step('copied', copy)
  await step('caught-up', async () => {
    // A fresh copy has neither hint bits nor a visibility map: VACUUM sets both, so the counts taken
    // inside the fence are index-only scans instead of reads of every row (the fence must not grow
    // with the tenant's size), and the tenant's first queries after the switch have statistics.
    // Not in a shared target: there it would vacuum every tenant's rows.
    if (!toDriver(plan).sharesPlacement) {
      const names = plan.tables.filter((t) => t.mode !== 'reference').map((t) => `${ident(plan.to.placement.schema)}.${ident(t.name)}`)
      if (names.length) await toDriver(plan).connect(janua, plan.to.placement, (c) => c.query(`vacuum (analyze) ${names.join(', ')}`))
    }
    // Rounds until what is left is small: the drain inside the fence then takes one short round.
    for (let round = 0; round < 50; round++) {
      const r = await captureRound(janua, plan, 'catch-up', onEvent)
      if (r.entries < 500) break
    }
    await cleanComparison(janua, journal, onEvent)
    // The clean comparison checksums every row, while the tenant writes on: catch up again, so the
    // drain inside the fence stays one short round. The keys applied since the comparison are
    // verified inside the fence with the drained ones.
    const since: Record<string, unknown[]> = {}
    for (let round = 0; round < 50; round++) {
      const r = await captureRound(janua, plan, 'catch-up', onEvent)
      for (const [table, keys] of r.applied) since[table] = [...(since[table] ?? []), ...keys]
      if (r.truncated?.length) journal.sinceCleanTruncated = true
      if (r.entries < 500) break
    }
    // The counted round, the last before the fence: every table's count at one source snapshot
    // against the target after the round (the fence then verifies only the keys changed since).
    const counted = await captureRound(janua, plan, 'counted', onEvent, {
      limit: null,
      inSnapshot: (source) => sideCounts(source, plan, plan.from.placement.schema),
      afterApply: (target) => sideCounts(target, plan, plan.to.placement.schema),
    })
    for (const [table, keys] of counted.applied) since[table] = [...(since[table] ?? []), ...keys]
    if (counted.truncated?.length) journal.sinceCleanTruncated = true
    const differing = Object.keys(counted.inSnapshot!).filter((t) => counted.inSnapshot![t] !== counted.afterApply![t])
    if (differing.length)
      throw copyDiffers(
        plan,
        differing.map((t) => ({ name: t, source: counted.inSnapshot![t]!, target: counted.afterApply![t] ?? 0 })),
      )
    journal.counted = { at: Date.now(), tables: counted.inSnapshot! }
    journal.sinceClean = since
    await setStep(janua, journal, 'caught-up')
  })
  if (plan.capture.mode !== 'none') await step('fenced', fence)
  await step('drained', async () => {
    // Every write of the tenant committed before the fence is in the log; the marker, written after
    // it, proves the drain complete (an independent check, not a counter).
    // A drain cut short by a kill applied keys nobody recorded: the verify after it compares everything.
    const resumed = journal.drainStarted === true
    if (!resumed) {
      journal.drainStarted = true
      await setStep(janua, journal, journal.step)
    }
    // A fresh marker per drain attempt: one a killed attempt already consumed is never waited for.
    const marker = `${journal.opId}:${Date.now()}`
    await fromDriver(plan).connect(janua, plan.from.placement, (c) => (plan.capture.mode === 'logical' ? emitMarker(c, marker) : writeMarker(c, plan.tenant.id)))
    const drained: Record<string, unknown[]> = { ...(journal.sinceClean ?? {}) }
    let truncated = journal.sinceCleanTruncated === true
    for (;;) {
      const r = await captureRound(janua, plan, 'drain', onEvent, { marker })
      for (const [table, keys] of r.applied) drained[table] = [...(drained[table] ?? []), ...keys]
      truncated ||= !!r.truncated?.length
      if (r.marker) break
    }
    // A drain that replaced a truncated table's rows wholesale is verified in full.
    journal.drained = resumed || truncated ? undefined : drained
    await syncSequences(janua, journal)
    journal.drainedAt = Date.now()
    await setStep(janua, journal, 'drained')
  })

  await step('verified', async () => {
    if (journal.clean && journal.drained) await verifyDrained(janua, journal)
    else await verifyCopy(janua, journal)
    journal.verifiedBy = journal.clean && journal.drained ? 'drained-keys' : 'full'
    journal.verifiedAt = Date.now()
    await setStep(janua, journal, 'verified')
  })

  await step('switched', async () => {
    journal.switchedAt = Date.now()
    // The switch: placement and journal step in one control-plane transaction.
    await janua.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('janua.tenants')
        .set({ isolation: plan.to.isolation, placement_id: plan.to.placementId!, updated_at: new Date() })
        .where('id', '=', plan.tenant.id)
        .execute()
      if (!toDriver(plan).sharesPlacement)
        await trx
          .updateTable('janua.placements')
          .set({ version: plan.version, updated_at: sql`now()` })
          .where('id', '=', plan.to.placementId!)
          .execute()
      await trx.updateTable('janua.operations').set({ placement_id: plan.to.placementId! }).where('id', '=', journal.opId).execute()
      await setStep(janua, journal, 'switched', trx)
    })
  })

  await step('source-removed', async () => {
    // A tenant's own login roles follow it: the new placement granted, the old one revoked (before a kept source is renamed).
    await followTenantAccess(janua, tenantOf(plan), plan.from.placement, { placement: plan.to.placement, sharesPlacement: toDriver(plan).sharesPlacement })
    await retireSource(janua, journal)
    await setStep(janua, journal, 'source-removed')
  })

  await step('done', async () => {
    await janua.db.transaction().execute(async (trx) => {
      await trx.updateTable('janua.tenants').set({ status: 'active', updated_at: new Date() }).where('id', '=', plan.tenant.id).execute()
      journal.step = 'done'
      const { opId, ...detail } = journal
      await trx
        .updateTable('janua.operations')
        .set({ step: 'done', status: 'succeeded', finished_at: new Date(), detail: JSON.stringify(detail) })
        .where('id', '=', opId)
        .execute()
    })
  })
}

/**
 * Copies every table in one target transaction (all or nothing), from one repeatable-read
 * snapshot of the source, parents before children. Rows a killed earlier attempt committed are
 * deleted first, so a re-run never duplicates.
 */
async function copyAll(janua: Janua, journal: Journal, onEvent?: (e: MoveEvent) => void, snapshot?: string): Promise<void> {
  const { plan } = journal
  const from = plan.from.placement
  const to = plan.to.placement
  await fromDriver(plan).connect(janua, from, async (source) => {
    // Holding the source placement's lock keeps `tenant migrate` from changing its tables mid-copy.
    await withAdvisoryLock(source, placementLockKey(from.schema), { ...janua.lockWait, what: describePlacement(from) }, async () => {
      await toDriver(plan).connect(janua, to, async (target) => {
        const version = versionOf(await readApplied(source, from.schema))
        if (version !== plan.version) throw new JanuaError(`the source moved from version ${plan.version} to ${version} during the move`, ExitCode.failed, 'run the move again')
        const moving = plan.tables.filter((t) => t.mode !== 'reference')
        const shapes = await tableShapes(
          source,
          from.schema,
          moving.map((t) => t.name),
        )
        await source.query('begin isolation level repeatable read read only')
        // Logical capture: exactly the snapshot the slot was created at (what it does not decode, the copy holds).
        if (snapshot) await source.query(`set transaction snapshot ${literal(snapshot)}`)
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
          await writeSequences(target, to.schema, journal.sequences, toDriver(plan).sharesPlacement)
          await target.query('commit')
        } catch (error) {
          await abandonTransaction(target)
          if (isPgError(error) && error.code === '23505') {
            throw new JanuaError(
              `a key of ${plan.tenant.slug} already exists in the target (${error.detail ?? error.message}); nothing was switched`,
              ExitCode.failed,
              'the rows at the target belong to someone else: find them with the key above, resolve, and run the move again',
            )
          }
          throw error
        } finally {
          await abandonTransaction(source)
        }
      })
    })
  })
}

/** Row counts and content checksums per table, computed on both sides; any difference stops the move before the switch. */
async function verifyCopy(janua: Janua, journal: Journal): Promise<void> {
  const { plan } = journal
  const tables = plan.tables.filter((t) => t.mode !== 'reference')
  const side = (placement: Placement, isolation: IsolationLevel) =>
    driverFor(isolation).connect(janua, placement, async (client) => {
      const shapes = await tableShapes(
        client,
        placement.schema,
        tables.map((t) => t.name),
      )
      const sums = new Map<string, { rows: number; checksum: string }>()
      for (const t of tables) sums.set(t.name, await tableChecksum(client, placement.schema, shapes.get(t.name)!, t.mode === 'tenant' ? plan.tenant.id : null))
      return sums
    })
  const [source, target] = await Promise.all([side(plan.from.placement, plan.from.isolation), side(plan.to.placement, plan.to.isolation)])
  const mismatches = tables.filter((t) => source.get(t.name)!.checksum !== target.get(t.name)!.checksum)
  for (const t of tables)
    journal.results[t.name] = { ...(journal.results[t.name] ?? { bytes: 0, copyMs: 0 }), rows: target.get(t.name)!.rows, checksum: target.get(t.name)!.checksum }
  if (mismatches.length)
    throw copyDiffers(
      plan,
      mismatches.map((t) => ({ name: t.name, source: source.get(t.name)!.rows, target: target.get(t.name)!.rows })),
    )
}

/** After the switch: the source goes, or with --keep-source is recorded first and then kept (renamed, or fenced rows in a shared placement). */
async function retireSource(janua: Janua, journal: Journal): Promise<void> {
  const { plan } = journal
  const from = fromDriver(plan)
  await from
    .connect(janua, plan.from.placement, (c) => inTransaction(c, () => removeCapture(c, plan.from.placement.schema, copiedTablesOf(plan), plan.tenant.id)))
    .catch((error: unknown) => {
      // A source whose database is already gone (a resumed run after its removal) has no capture left.
      if (!isMissingDatabase(error)) throw error
    })
  if (plan.capture.mode === 'logical') {
    await removeLogical(janua, plan.from.placement, plan.tenant.id).catch((error: unknown) => {
      // A source whose database is already gone took its slot and publication with it.
      if (!isMissingDatabase(error)) throw error
    })
  }
  // Stale writers (an application's routing cache) must not write the tenant's rows where nobody reads them.
  if (from.sharesPlacement) {
    await from.connect(janua, plan.from.placement, (c) => installTombstone(c, plan.from.placement.schema, tenantTablesOf(plan), plan.tenant, describePlacement(plan.to.placement)))
  }
  if (plan.keepSource && plan.keptAs) {
    const recorded = await janua.db.selectFrom('janua.leftovers').select('id').where('operation_id', '=', journal.opId).where('kind', '=', 'kept-source').executeTakeFirst()
    if (!recorded) {
      await recordLeftover(janua.db, {
        tenant: plan.tenant,
        operationId: journal.opId,
        kind: 'kept-source',
        what: from.leftover,
        placement: plan.keptAs,
        detail: { from: plan.from.placement, tables: tenantTablesOf(plan) },
      })
    }
    await from.retire(janua, tenantOf(plan), plan.from.placement, { keep: plan.keptAs })
  } else {
    await from.retire(janua, tenantOf(plan), plan.from.placement)
  }
  await janua.db
    .deleteFrom('janua.placements')
    .where('id', '=', plan.from.placementId)
    .where('kind', '<>', 'shared')
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('janua.tenants').select('id').whereRef('placement_id', '=', 'janua.placements.id'))))
    .execute()
}

/**
 * Before the switch. The source is made authoritative again first (fence lifted, tenant active,
 * journal closed, the target recorded as a leftover), so that a target server that is down never
 * keeps the tenant from writing; then the target is removed as far as it can be. What could not be
 * removed stays recorded (and is returned) for `janua tenant cleanup`.
 */
async function abortMove(janua: Janua, journal: Journal, cause?: JanuaError): Promise<LeftoverOutcome[]> {
  const { plan } = journal
  await fromDriver(plan).connect(janua, plan.from.placement, (c) =>
    inTransaction(c, async () => {
      await removeFence(c, plan.from.placement.schema, [...tenantTablesOf(plan), ...wholeTablesOf(plan)], plan.tenant.id)
      await removeCapture(c, plan.from.placement.schema, copiedTablesOf(plan), plan.tenant.id)
    }),
  )
  if (plan.capture.mode === 'logical') await removeLogical(janua, plan.from.placement, plan.tenant.id)
  await janua.db.transaction().execute(async (trx) => {
    await trx.updateTable('janua.tenants').set({ status: 'active', updated_at: new Date() }).where('id', '=', plan.tenant.id).execute()
    await trx
      .updateTable('janua.operations')
      .set({ status: 'aborted', finished_at: new Date(), error: cause ? cause.message : 'aborted by --abort' })
      .where('id', '=', journal.opId)
      .execute()
    await recordLeftover(trx, {
      tenant: plan.tenant,
      operationId: journal.opId,
      kind: 'move-target',
      what: toDriver(plan).leftover,
      placement: plan.to.placement,
      detail: { step: journal.step },
    })
    if (!toDriver(plan).sharesPlacement) {
      await trx
        .deleteFrom('janua.placements')
        .where('server', '=', plan.to.placement.server)
        .where('database', '=', plan.to.placement.database)
        .where('schema', '=', plan.to.placement.schema)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('janua.tenants').select('id').whereRef('placement_id', '=', 'janua.placements.id'))))
        .execute()
    }
  })
  const outcomes: LeftoverOutcome[] = []
  const live = plan.from.placement
  for (const leftover of await listLeftovers(janua, { tenantId: plan.tenant.id })) {
    if (leftover.kind === 'move-target') outcomes.push(await removeLeftover(janua, leftover, live))
  }
  return outcomes
}
