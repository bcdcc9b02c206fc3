import type { IsolationLevel } from '../../db/schema.js'
import { ExitCode, JanuaError, usageError } from '../errors.js'
import { describePlacement, type Placement } from '../placement.js'

/**
 * Journaled steps of an online move (trigger capture), in order: the tenant's writes go on while the
 * copy and the catch-up run, and are fenced only for the drain, the verify and the switch. Before
 * 'switched' the source is authoritative; from it on, the target.
 */
export const MOVE_STEPS = ['planned', 'prepared', 'capturing', 'copied', 'caught-up', 'fenced', 'drained', 'verified', 'switched', 'source-removed', 'done'] as const
export type MoveStep = (typeof MOVE_STEPS)[number]
/** An offline move (--capture none, or tables without a primary key): fenced for the whole copy. */
export const OFFLINE_STEPS: readonly MoveStep[] = ['planned', 'prepared', 'fenced', 'copied', 'verified', 'switched', 'source-removed', 'done']
export type CaptureMode = 'logical' | 'trigger' | 'none'

/** Whether a journaled step is past `than` in the move's own step list. */
export const isAfter = (step: MoveStep, than: MoveStep, steps: readonly MoveStep[] = MOVE_STEPS) => steps.indexOf(step) > steps.indexOf(than)

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
  /** where a kept source ends up (renamed schema or database, or the shared placement itself) */
  keptAs: Placement | null
  /**
   * how the tenant's writes during the copy reach the target: 'logical' (a slot and a publication),
   * 'trigger' (a log table filled by triggers), both online; or 'none' (fenced for the whole copy).
   * rowFilter: the publication filters on tenant_id (a source shared with other tenants).
   */
  capture: { mode: CaptureMode; reason: string; tables: { name: string; key: string[]; tenantRows: boolean }[]; rowFilter?: boolean }
  steps: readonly MoveStep[]
}

export interface SourceTableFacts {
  name: string
  hasTenantId: boolean
  rlsEnabled: boolean
  rlsForced: boolean
  /** the tenant's rows (every row for a table without tenant_id) */
  rows: number
  /** rows of another tenant_id */
  foreign: number
  bytes: number
  /** content checksum of a table without tenant_id ('' otherwise) */
  checksum: string
  /** primary key columns, null when the table has none */
  primaryKey: string[] | null
  /** the columns of the table's replica identity (what an UPDATE/DELETE publishes as the old row), null when it has none */
  replicaIdentity?: string[] | null
}

/** What logical decoding needs of the source server (read-only facts). */
export interface LogicalFacts {
  walLevel: string
  /** max_replication_slots minus the slots in use */
  freeSlots: number
  /** janua's role is a superuser or has REPLICATION */
  canReplicate: boolean
}

/** Everything a move decision needs, read before anything changes. */
export interface MoveFacts {
  tenant: { id: string; slug: string; name: string; status: string; isolation: IsolationLevel; placementId: string; placement: Placement }
  request: { to: IsolationLevel; server: string; keepSource: boolean; capture: CaptureMode | 'auto' }
  /** the capabilities of the two levels' drivers */
  from: { sharesPlacement: boolean }
  to: { sharesPlacement: boolean }
  source: { version: number; tables: SourceTableFacts[]; logical?: LogicalFacts }
  target: {
    placement: Placement
    exists: boolean
    /** the target placement's version when it exists and is shared */
    version: number | null
    /** content checksums of the target's tables without tenant_id (shared targets) */
    reference: Record<string, { rows: number; checksum: string }>
  }
  /** recorded leftovers of this tenant (aborted move targets, kept sources) at the target placement */
  leftoversAtTarget: { kind: string; placement: Placement }[]
  keptAs: Placement | null
  /** when the target cannot hold shared tenants: why, and what to do */
  sharedRefusal: { message: string; hint: string } | null
}

/** Pure: the move's plan, or the refusal (exit 2) that stops it before anything changes. */
export function decideMove(facts: MoveFacts): MovePlan {
  const { tenant, request, source, target } = facts
  if (tenant.status !== 'active') throw usageError(`tenant "${tenant.slug}" is ${tenant.status}`, `only an active tenant can be moved; see janua tenant inspect ${tenant.slug}`)
  if (request.to === tenant.isolation && request.server === tenant.placement.server) {
    throw usageError(`tenant "${tenant.slug}" is already ${request.to} on server ${request.server}`, 'pick another --to level, or another --server')
  }
  if (facts.leftoversAtTarget.length) {
    throw usageError(
      `${describePlacement(target.placement)} still holds a ${facts.leftoversAtTarget[0]!.kind} of ${tenant.slug}`,
      `remove it first: janua tenant cleanup ${tenant.slug}`,
    )
  }
  if (!facts.to.sharesPlacement && target.exists) {
    throw new JanuaError(
      `the target ${describePlacement(target.placement)} already exists`,
      ExitCode.usage,
      'it belongs to no tenant: inspect it, then drop it, and run the move again',
      'placement_taken',
    )
  }
  // A placement of its own whose tables hold rows of another tenant id would lose them when dropped.
  if (!facts.from.sharesPlacement) {
    const strays = source.tables.filter((f) => f.foreign > 0)
    if (strays.length) {
      throw usageError(
        `table(s) ${strays.map((f) => `${f.name} (${f.foreign} rows)`).join(', ')} of ${tenant.slug}'s placement hold rows of another tenant_id`,
        'these rows would be lost when the source is removed; move or delete them by hand first',
      )
    }
  }
  if (facts.to.sharesPlacement) {
    if (facts.sharedRefusal) throw usageError(facts.sharedRefusal.message, facts.sharedRefusal.hint)
    if (target.exists && target.version !== source.version) {
      throw usageError(
        `${tenant.slug} is at template version ${source.version} but the shared placement ${describePlacement(target.placement)} is at ${target.version}`,
        (target.version ?? 0) < source.version
          ? `bring the shared placement up first: janua tenant migrate --isolation shared --server ${target.placement.server}`
          : `bring the tenant up first: janua tenant migrate --tenant ${tenant.slug}`,
      )
    }
  }

  const tables: MoveTablePlan[] = source.tables.map((f) => {
    if (f.hasTenantId) return { name: f.name, mode: 'tenant', rows: f.rows, bytes: f.bytes }
    if (f.rows === 0) return { name: f.name, mode: 'reference', rows: 0, bytes: 0 }
    if (facts.to.sharesPlacement) {
      // Rows without tenant_id may go into a shared placement only if they are already there, identical
      // (template reference data); a shared placement built by this move gets them from the same templates.
      const there = target.reference[f.name]
      if (target.exists && (!there || there.checksum !== f.checksum)) {
        throw usageError(
          `table ${f.name} has no tenant_id and holds ${f.rows} row(s) that differ from the shared placement's, so they cannot be moved into a shared placement without being lost or mixed with other tenants'`,
          `move ${tenant.slug} to --to schema or --to database instead, or add tenant_id to ${f.name} in a new template`,
        )
      }
      return { name: f.name, mode: 'reference', rows: f.rows, bytes: f.bytes }
    }
    // A placement of its own is built from the same templates: a shared source's rows without tenant_id are template data.
    return { name: f.name, mode: facts.from.sharesPlacement ? 'reference' : 'whole', rows: f.rows, bytes: f.bytes }
  })

  const capture = decideCapture(tables, source.tables, request.capture, source.logical, facts.from.sharesPlacement)
  return {
    tenant: { id: tenant.id, slug: tenant.slug, name: tenant.name },
    from: { isolation: tenant.isolation, placement: tenant.placement, placementId: tenant.placementId },
    to: { isolation: request.to, placement: target.placement, placementId: null },
    version: source.version,
    tables,
    keepSource: request.keepSource,
    keptAs: request.keepSource ? facts.keptAs : null,
    capture,
    steps: capture.mode === 'none' ? OFFLINE_STEPS : MOVE_STEPS,
  }
}

/**
 * Pure: online where every copied table has a primary key to replay changes by: logical decoding
 * where the source server allows it, trigger capture elsewhere; else offline, saying why.
 */
function decideCapture(
  tables: MoveTablePlan[],
  facts: SourceTableFacts[],
  requested: CaptureMode | 'auto',
  logical: LogicalFacts | undefined,
  rowFilter: boolean,
): MovePlan['capture'] {
  const moving = tables.filter((t) => t.mode !== 'reference')
  const byName = new Map(facts.map((f) => [f.name, f]))
  const captured = moving.map((t) => ({ name: t.name, key: byName.get(t.name)?.primaryKey ?? [], tenantRows: t.mode === 'tenant' }))
  if (requested === 'none') return { mode: 'none', reason: '--capture none: writes fenced for the whole copy', tables: [] }
  const keyless = captured.filter((t) => t.key.length === 0).map((t) => t.name)
  if (keyless.length) {
    if (requested !== 'auto') {
      throw usageError(
        `--capture ${requested} needs a primary key on every copied table; ${keyless.join(', ')} ha${keyless.length === 1 ? 's' : 've'} none`,
        'add a primary key in a new template, or pass --capture none (writes fenced for the whole copy)',
      )
    }
    return { mode: 'none', reason: `no primary key on ${keyless.join(', ')}: writes fenced for the whole copy`, tables: [] }
  }
  const trigger = (why: string): MovePlan['capture'] => ({
    mode: 'trigger',
    reason: `trigger capture${why ? ` (${why})` : ''}: writes go on during the copy, fenced only for the final drain, verify and switch`,
    tables: captured,
  })
  if (requested === 'trigger') return trigger('--capture trigger')
  const blocker = logicalBlocker(captured, byName, logical, rowFilter)
  if (blocker) {
    if (requested === 'logical') throw usageError(`--capture logical is not possible here: ${blocker.why}`, `${blocker.hint}; or pass --capture trigger`)
    return trigger(`no logical decoding: ${blocker.why}`)
  }
  return {
    mode: 'logical',
    reason: `logical decoding (a slot and a publication${rowFilter ? ' filtered on tenant_id' : ''}): writes go on during the copy, fenced only for the final drain, verify and switch`,
    tables: captured,
    rowFilter,
  }
}

/** Pure: why logical decoding cannot capture this move (null: it can). */
export function logicalBlocker(
  captured: { name: string; key: string[] }[],
  facts: Map<string, SourceTableFacts>,
  logical: LogicalFacts | undefined,
  rowFilter: boolean,
): { why: string; hint: string } | null {
  if (!logical) return { why: 'the source server was not asked', hint: 'run the move again' }
  if (logical.walLevel !== 'logical') {
    return { why: `the source server has wal_level = ${logical.walLevel}`, hint: 'set wal_level = logical on the source server (a restart)' }
  }
  if (logical.freeSlots < 1) return { why: 'the source server has no free replication slot', hint: 'raise max_replication_slots (a restart) or drop an unused slot' }
  if (!logical.canReplicate) return { why: "janua's role on the source server may not replicate", hint: 'grant it REPLICATION (alter role ... replication)' }
  // An UPDATE/DELETE of a published table must carry the filter's and the key's columns in its old row;
  // a row filter outside the replica identity makes PostgreSQL refuse every other tenant's UPDATE/DELETE.
  const lacking = captured.filter((t) => {
    const identity = facts.get(t.name)?.replicaIdentity
    if (!identity) return true
    return ![...t.key, ...(rowFilter ? ['tenant_id'] : [])].every((c) => identity.includes(c))
  })
  if (lacking.length) {
    return {
      why: `the replica identity of ${lacking.map((t) => t.name).join(', ')} does not cover ${rowFilter ? 'tenant_id and ' : ''}the primary key`,
      hint: `give ${lacking.length === 1 ? 'it' : 'them'} a replica identity that does (a primary key or unique index including tenant_id, in a new template)`,
    }
  }
  return null
}

export type Continuation = 'start' | 'resume' | 'abort'

/** Pure: what a run does given the tenant's unfinished move (if any) and the flags; every refusal is here. */
export function decideContinuation(
  slug: string,
  pending: { step: MoveStep; to: IsolationLevel; steps?: readonly MoveStep[] } | undefined,
  options: { resume?: boolean; abort?: boolean; to?: string },
): Continuation {
  if (options.resume && options.abort) throw usageError('--resume and --abort exclude each other')
  if (options.resume || options.abort) {
    if (!pending) throw usageError(`tenant "${slug}" has no unfinished move`, 'start one with janua tenant migrate-isolation <slug> --to <level>')
    if (options.abort && isAfter(pending.step, 'verified', pending.steps ?? OFFLINE_STEPS)) {
      throw usageError(
        `the move of "${slug}" is past the switch: the target is authoritative and there is nothing to undo`,
        `finish it: janua tenant migrate-isolation ${slug} --resume`,
      )
    }
    return options.abort ? 'abort' : 'resume'
  }
  if (pending) {
    throw usageError(
      `tenant "${slug}" has an unfinished move (step ${pending.step}, to ${pending.to})`,
      `finish it with --resume${isAfter(pending.step, 'verified', pending.steps ?? OFFLINE_STEPS) ? '' : ' or undo it with --abort'}: janua tenant migrate-isolation ${slug} --resume`,
    )
  }
  if (!options.to) throw usageError('--to is required', 'pass --to shared|schema|database')
  return 'start'
}
