import type { IsolationLevel } from '../../db/schema.js'
import { ExitCode, JanuaError, usageError } from '../errors.js'
import { describePlacement, type Placement } from '../placement.js'

/** Journaled steps, in order. Before 'switched' the source is authoritative; from it on, the target. */
export const MOVE_STEPS = ['planned', 'prepared', 'fenced', 'copied', 'verified', 'switched', 'source-removed', 'done'] as const
export type MoveStep = (typeof MOVE_STEPS)[number]
export const isAfter = (step: MoveStep, than: MoveStep) => MOVE_STEPS.indexOf(step) > MOVE_STEPS.indexOf(than)

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
}

/** Everything a move decision needs, read before anything changes. */
export interface MoveFacts {
  tenant: { id: string; slug: string; name: string; status: string; isolation: IsolationLevel; placementId: string; placement: Placement }
  request: { to: IsolationLevel; server: string; keepSource: boolean }
  /** the capabilities of the two levels' drivers */
  from: { sharesPlacement: boolean }
  to: { sharesPlacement: boolean }
  source: { version: number; tables: SourceTableFacts[] }
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
    throw usageError(`${describePlacement(target.placement)} still holds a ${facts.leftoversAtTarget[0]!.kind} of ${tenant.slug}`,
      `remove it first: janua tenant cleanup ${tenant.slug}`)
  }
  if (!facts.to.sharesPlacement && target.exists) {
    throw new JanuaError(`the target ${describePlacement(target.placement)} already exists`, ExitCode.usage, 'it belongs to no tenant: inspect it, then drop it, and run the move again', 'placement_taken')
  }
  // A placement of its own whose tables hold rows of another tenant id would lose them when dropped.
  if (!facts.from.sharesPlacement) {
    const strays = source.tables.filter((f) => f.foreign > 0)
    if (strays.length) {
      throw usageError(`table(s) ${strays.map((f) => `${f.name} (${f.foreign} rows)`).join(', ')} of ${tenant.slug}'s placement hold rows of another tenant_id`,
        'these rows would be lost when the source is removed; move or delete them by hand first')
    }
  }
  if (facts.to.sharesPlacement) {
    if (facts.sharedRefusal) throw usageError(facts.sharedRefusal.message, facts.sharedRefusal.hint)
    if (target.exists && target.version !== source.version) {
      throw usageError(`${tenant.slug} is at template version ${source.version} but the shared placement ${describePlacement(target.placement)} is at ${target.version}`,
        (target.version ?? 0) < source.version ? `bring the shared placement up first: janua tenant migrate --isolation shared --server ${target.placement.server}` : `bring the tenant up first: janua tenant migrate --tenant ${tenant.slug}`)
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
        throw usageError(`table ${f.name} has no tenant_id and holds ${f.rows} row(s) that differ from the shared placement's, so they cannot be moved into a shared placement without being lost or mixed with other tenants'`,
          `move ${tenant.slug} to --to schema or --to database instead, or add tenant_id to ${f.name} in a new template`)
      }
      return { name: f.name, mode: 'reference', rows: f.rows, bytes: f.bytes }
    }
    // A placement of its own is built from the same templates: a shared source's rows without tenant_id are template data.
    return { name: f.name, mode: facts.from.sharesPlacement ? 'reference' : 'whole', rows: f.rows, bytes: f.bytes }
  })

  return {
    tenant: { id: tenant.id, slug: tenant.slug, name: tenant.name },
    from: { isolation: tenant.isolation, placement: tenant.placement, placementId: tenant.placementId },
    to: { isolation: request.to, placement: target.placement, placementId: null },
    version: source.version,
    tables,
    keepSource: request.keepSource,
    keptAs: request.keepSource ? facts.keptAs : null,
    steps: MOVE_STEPS,
  }
}

export type Continuation = 'start' | 'resume' | 'abort'

/** Pure: what a run does given the tenant's unfinished move (if any) and the flags; every refusal is here. */
export function decideContinuation(slug: string, pending: { step: MoveStep; to: IsolationLevel } | undefined, options: { resume?: boolean; abort?: boolean; to?: string }): Continuation {
  if (options.resume && options.abort) throw usageError('--resume and --abort exclude each other')
  if (options.resume || options.abort) {
    if (!pending) throw usageError(`tenant "${slug}" has no unfinished move`, 'start one with janua tenant migrate-isolation <slug> --to <level>')
    if (options.abort && isAfter(pending.step, 'verified')) {
      throw usageError(`the move of "${slug}" is past the switch: the target is authoritative and there is nothing to undo`, `finish it: janua tenant migrate-isolation ${slug} --resume`)
    }
    return options.abort ? 'abort' : 'resume'
  }
  if (pending) {
    throw usageError(`tenant "${slug}" has an unfinished move (step ${pending.step}, to ${pending.to})`,
      `finish it with --resume${isAfter(pending.step, 'verified') ? '' : ' or undo it with --abort'}: janua tenant migrate-isolation ${slug} --resume`)
  }
  if (!options.to) throw usageError('--to is required', 'pass --to shared|schema|database')
  return 'start'
}
