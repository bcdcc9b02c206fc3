import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import { sql } from 'kysely'
import { endQuietly, withClient } from '../db/connection.js'
import { translateError } from '../db/errors.js'
import { redactAll } from '../db/redact.js'
import type { IsolationLevel } from '../db/schema.js'
import { validateSlug } from '../sql/ident.js'
import { applyPending } from './apply.js'
import { syncTenantTableGrants } from './tenant-access.js'
import type { Janua } from './context.js'
import { ensureControlPlane, knownControlPlane, requireControlPlane } from './control-plane.js'
import { ExitCode, usageError } from './errors.js'
import { forEachLimit, listFleet, ownsDatabase, readHistories, type FleetPlacement } from './fleet.js'
import { describePlacement, type Placement } from './placement.js'
import { placementFailure } from './placement-failure.js'
import { checkApplied } from './templates.js'
import { validateIsolation } from './tenants.js'
import { requireKnownServer } from './known-server.js'

export interface MigrateOptions {
  tenants?: string[]
  isolation?: string
  server?: string
  toVersion?: number
  concurrency?: number
  failFast?: boolean
  dryRun?: boolean
  lockTimeoutMs?: number
  onEvent?: (event: MigrateEvent) => void
}

export interface PlannedPlacement {
  kind: IsolationLevel | 'template'
  placement: Placement
  tenants: string[]
  version: number
  pending: string[]
}

export interface PlacementOutcome extends PlannedPlacement {
  status: 'migrated' | 'up-to-date' | 'failed' | 'skipped'
  applied: string[]
  toVersion: number
  durationMs: number
  error?: { message: string; exitCode: number; file?: string; line?: number; column?: number; sqlstate?: string; reason?: string }
}

export interface MigrateReport {
  runId: string | null
  dryRun: boolean
  templates: { dir: string; latest: number }
  targetVersion: number
  concurrency: number
  summary: { placements: number; migrated: number; upToDate: number; failed: number; skipped: number; filesApplied: number; durationMs: number }
  placements: PlacementOutcome[]
  /** journal or recorded-version writes that failed (the placements themselves are as reported) */
  journalErrors: string[]
}

export type MigrateEvent = { type: 'start'; total: number; pending: number } | { type: 'done'; outcome: PlacementOutcome; done: number; failed: number; total: number }

/** Connections to leave free on a server: janua never exhausts max_connections. */
async function defaultConcurrency(janua: Janua, server = 'primary'): Promise<number> {
  const { rows } = await withClient(await janua.conn.adminPool(server), (c) =>
    c.query<{ free: number }>(
      `select current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int - (select count(*) from pg_stat_activity)::int as free`,
    ),
  )
  return Math.max(1, Math.min(8, Math.floor(rows[0]!.free / 4)))
}

/** The exit code of a fleet run: 0, 1 when any target failed, 4 when the only failures were locks, 5 when only unreachable. */
export function fleetExitCode(outcomes: { status: string; error?: { exitCode: number } }[]): number {
  const failed = outcomes.filter((o) => o.status === 'failed')
  if (failed.length === 0) return ExitCode.ok
  const codes = new Set(failed.map((o) => o.error?.exitCode ?? 1))
  return codes.size === 1 ? [...codes][0]! : ExitCode.failed
}

/**
 * `janua tenant migrate`: plan (placements x pending files) first, refuse on any checksum
 * mismatch before anything runs, then apply per placement under its own advisory lock, in
 * parallel, one failure never stopping the others (unless failFast).
 */
export async function migrateFleet(janua: Janua, options: MigrateOptions): Promise<MigrateReport> {
  const started = Date.now()
  const tenants = (options.tenants ?? []).map((t) => validateSlug(t))
  const isolation = options.isolation ? validateIsolation(options.isolation) : undefined
  if (options.server) await requireKnownServer(janua, options.server)
  const set = janua.templates
  if (options.toVersion !== undefined && !set.files.some((f) => f.version === options.toVersion)) {
    throw usageError(`--to ${options.toVersion} is not a template version`, `versions in ${set.dir}: ${set.files.map((f) => f.version).join(', ')}`)
  }
  const cpId = options.dryRun ? await requireControlPlane(janua) : await ensureControlPlane(janua)
  const target = options.toVersion ?? set.latest
  const concurrency = options.concurrency ?? (await defaultConcurrency(janua))

  const fleet = await listFleet(janua, cpId, { tenants, isolation, server: options.server })
  if (tenants.length) {
    const known = new Set(fleet.flatMap((p) => p.tenants))
    const missing = tenants.filter((t) => !known.has(t))
    if (missing.length) throw usageError(`no tenant ${missing.map((m) => `"${m}"`).join(', ')}`, 'list tenants with `janua tenant list`')
  }
  const histories = await readHistories(janua, fleet, concurrency)

  // Checksums first, for every placement: an edited applied file stops the whole run before any DDL.
  for (const p of fleet) checkApplied(set, histories.get(p)!.applied, describePlacement(p.placement))

  const plan = fleet.map((p) => {
    const history = histories.get(p)!
    const done = new Set(history.applied.map((a) => a.file))
    const version = history.applied.reduce((m, a) => Math.max(m, a.version), 0)
    const pending = set.files.filter((f) => !done.has(f.name) && f.version <= target).map((f) => f.name)
    return { entry: p, planned: { kind: p.kind, placement: p.placement, tenants: p.tenants, version, pending } as PlannedPlacement, readError: history.error }
  })

  const base = { templates: { dir: set.dir, latest: set.latest }, targetVersion: target, concurrency }
  if (options.dryRun) {
    const placements: PlacementOutcome[] = plan.map(({ planned, readError }) => ({
      ...planned,
      status: readError ? 'failed' : planned.pending.length ? 'skipped' : 'up-to-date',
      applied: [],
      toVersion: planned.version,
      durationMs: 0,
      error: readError,
    }))
    return { runId: null, dryRun: true, ...base, summary: summarise(placements, started), placements, journalErrors: [] }
  }

  // Nothing to apply, nothing to record: no run row, no journal (the audit log has the command).
  if (plan.every(({ entry, planned, readError }) => !readError && planned.pending.length === 0 && (!entry.placementId || entry.recordedVersion === planned.version))) {
    const placements: PlacementOutcome[] = plan.map(({ planned }) => ({ ...planned, status: 'up-to-date', applied: [], toVersion: planned.version, durationMs: 0 }))
    options.onEvent?.({ type: 'start', total: placements.length, pending: 0 })
    placements.forEach((outcome, i) => options.onEvent?.({ type: 'done', outcome, done: i + 1, failed: 0, total: placements.length }))
    return { runId: null, dryRun: false, ...base, summary: summarise(placements, started), placements, journalErrors: [] }
  }

  const runId = randomUUID()
  const runOp = await janua.db
    .insertInto('janua.operations')
    .values({ run_id: runId, kind: 'tenant.migrate', status: 'running', step: 'apply', detail: JSON.stringify({ target, placements: plan.length, concurrency }), pid: process.pid })
    .returning('id')
    .executeTakeFirstOrThrow()

  const outcomes: PlacementOutcome[] = new Array(plan.length)
  let done = 0
  let failed = 0
  let stop = false
  const journal = new JournalBuffer(janua, runId)
  options.onEvent?.({ type: 'start', total: plan.length, pending: plan.filter((p) => p.planned.pending.length).length })

  // Each server gets its own limit (from its free connections); servers run side by side, and a
  // server found unreachable fails its remaining placements at once instead of timing out on each.
  const serverDown = new Map<string, { message: string; exitCode: number }>()
  const work = async ({ entry, planned, readError }: (typeof plan)[number], index: number) => {
    const t0 = Date.now()
    let outcome: PlacementOutcome
    const down = serverDown.get(entry.placement.server)
    if (!readError && down && planned.pending.length) {
      outcome = { ...planned, status: 'failed', applied: [], toVersion: planned.version, durationMs: 0, error: down }
    } else if (readError) {
      outcome = { ...planned, status: 'failed', applied: [], toVersion: planned.version, durationMs: 0, error: readError }
    } else if (planned.pending.length === 0) {
      outcome = { ...planned, status: 'up-to-date', applied: [], toVersion: planned.version, durationMs: 0 }
    } else {
      try {
        const result = await applyTo(janua, entry, target, options.lockTimeoutMs)
        outcome = { ...planned, status: result.applied.length ? 'migrated' : 'up-to-date', applied: result.applied, toVersion: result.version, durationMs: Date.now() - t0 }
      } catch (error) {
        // A dropped tenant database fails its placement alone; only a server that stopped answering fails its neighbours.
        const { failure, serverDown: serverStopped } = await placementFailure(janua, entry.placement, entry.tenants, error)
        const exitCode = failure.exitCode
        const d = failure.details ?? {}
        outcome = {
          ...planned,
          status: 'failed',
          applied: (d.applied as string[] | undefined) ?? [],
          toVersion: (d.version as number | undefined) ?? planned.version,
          durationMs: Date.now() - t0,
          error: {
            message: redactAll(failure.message),
            exitCode,
            file: d.file as string | undefined,
            line: d.line as number | undefined,
            column: d.column as number | undefined,
            sqlstate: d.sqlstate as string | undefined,
            // the database's own message, without the placement: what placements failing alike share
            reason: typeof d.error === 'string' ? redactAll(d.error) : undefined,
          },
        }
        if (serverStopped) serverDown.set(entry.placement.server, outcome.error!)
        if (options.failFast) stop = true
      }
    }
    outcomes[index] = outcome
    done++
    if (outcome.status === 'failed') failed++
    if (outcome.status !== 'up-to-date' || readError) await journal.add(entry, outcome)
    // A version recorded wrong by an earlier run (its write failed) is put right by this one.
    else if (entry.placementId && entry.recordedVersion !== outcome.version) journal.correctVersion(entry, outcome.version)
    options.onEvent?.({ type: 'done', outcome, done, failed, total: plan.length })
  }
  const byServer = new Map<string, number[]>()
  plan.forEach((p, i) => byServer.set(p.entry.placement.server, [...(byServer.get(p.entry.placement.server) ?? []), i]))
  await Promise.all(
    [...byServer].map(async ([server, indices]) => {
      // A server that cannot say how many connections it has free gets one: its placements then
      // fail one by one with the real error (unreachable: all at once, see serverDown).
      const limit = options.concurrency ?? (server === 'primary' ? concurrency : await defaultConcurrency(janua, server).catch(() => 1))
      await forEachLimit(
        indices,
        limit,
        (i) => work(plan[i]!, i),
        () => stop,
      )
    }),
  )

  for (let i = 0; i < plan.length; i++) {
    outcomes[i] ??= { ...plan[i]!.planned, status: 'skipped', applied: [], toVersion: plan[i]!.planned.version, durationMs: 0 }
  }
  await journal.flush()
  const summary = summarise(outcomes, started)
  await janua.db
    .updateTable('janua.operations')
    .set({
      status: summary.failed ? 'failed' : 'succeeded',
      finished_at: new Date(),
      detail: JSON.stringify({ target, concurrency, ...summary }),
      error: summary.failed ? `${summary.failed} placement(s) failed` : null,
    })
    .where('id', '=', runOp.id)
    .execute()
  return { runId, dryRun: false, ...base, summary, placements: outcomes, journalErrors: journal.errors }
}

function summarise(placements: PlacementOutcome[], started: number): MigrateReport['summary'] {
  const count = (s: PlacementOutcome['status']) => placements.filter((p) => p.status === s).length
  return {
    placements: placements.length,
    migrated: count('migrated'),
    upToDate: count('up-to-date'),
    failed: count('failed'),
    skipped: count('skipped'),
    filesApplied: placements.reduce((n, p) => n + p.applied.length, 0),
    durationMs: Date.now() - started,
  }
}

async function applyTo(janua: Janua, entry: FleetPlacement, target: number, lockTimeoutMs?: number) {
  const { server, database, schema } = entry.placement
  const where = entry.tenants.length
    ? `${describePlacement(entry.placement)} (${entry.tenants.length === 1 ? `tenant ${entry.tenants[0]}` : `${entry.tenants.length} tenants`})`
    : describePlacement(entry.placement)
  const run = async (client: pg.ClientBase) => {
    const applied = await applyPending(client, schema, janua.templates, { toVersion: target, lockTimeoutMs, where })
    // New tables' grants reach the tenant roles' group (nothing happens without tenant roles on the server).
    await syncTenantTableGrants(client, schema, janua.appRole, knownControlPlane(janua))
    return applied
  }
  let result
  if (ownsDatabase(entry)) {
    // One database per tenant: a short-lived connection each, so thousands never pile up.
    const client = await janua.conn.dedicatedClient(server, database)
    try {
      result = await run(client)
    } finally {
      await endQuietly(client)
    }
  } else {
    const config = await janua.conn.serverConfig(server)
    result = await withClient(janua.conn.pool(config, database, 8), run)
  }
  return result
}

/**
 * Per-placement journal rows, written in batches so that the journal does not slow the fleet. A
 * write that fails does not stop the run (its placements are migrated either way); it is kept in
 * `errors` for the report, and the next `tenant migrate` records the versions again.
 */
class JournalBuffer {
  private rows: { entry: FleetPlacement; outcome: PlacementOutcome }[] = []
  private corrections: { placementId: string; version: number }[] = []
  readonly errors: string[] = []
  constructor(
    private readonly janua: Janua,
    private readonly runId: string,
  ) {}

  async add(entry: FleetPlacement, outcome: PlacementOutcome) {
    this.rows.push({ entry, outcome })
    if (this.rows.length >= 100) await this.flush()
  }

  correctVersion(entry: FleetPlacement, version: number) {
    this.corrections.push({ placementId: entry.placementId!, version })
  }

  private async attempt(what: string, write: () => Promise<unknown>) {
    try {
      await write()
    } catch (error) {
      this.errors.push(`${what} failed: ${redactAll(translateError(error).message)}`)
    }
  }

  async flush() {
    const rows = this.rows
    const corrections = this.corrections
    this.rows = []
    this.corrections = []
    // The versions janua records for `db status`, in one statement per batch.
    const versions = [
      ...rows
        .filter(({ entry, outcome }) => entry.placementId && outcome.applied.length)
        .map(({ entry, outcome }) => ({ placementId: entry.placementId!, version: outcome.toVersion })),
      ...corrections,
    ].map((v) => sql`(${v.placementId}::bigint, ${v.version}::int)`)
    if (versions.length) {
      await this.attempt(`recording the versions of ${versions.length} placement(s) in janua.placements`, () =>
        sql`update janua.placements p set version = v.version, updated_at = now() from (values ${sql.join(versions)}) as v(id, version) where p.id = v.id`.execute(this.janua.db),
      )
    }
    if (!rows.length) return
    await this.attempt(`journaling ${rows.length} placement result(s) in janua.operations`, () =>
      this.janua.db
        .insertInto('janua.operations')
        .values(
          rows.map(({ entry, outcome }) => ({
            run_id: this.runId,
            kind: 'migrate.placement',
            placement_id: entry.placementId,
            tenant_slug: entry.tenants.length === 1 ? entry.tenants[0]! : null,
            status: outcome.status === 'failed' ? ('failed' as const) : ('succeeded' as const),
            step: outcome.status,
            detail: JSON.stringify({
              placement: entry.placement,
              tenants: entry.tenants,
              fromVersion: outcome.version,
              toVersion: outcome.toVersion,
              applied: outcome.applied,
              durationMs: outcome.durationMs,
              file: outcome.error?.file,
              line: outcome.error?.line,
            }),
            error: outcome.error?.message ?? null,
            finished_at: new Date(),
            pid: process.pid,
          })),
        )
        .execute(),
    )
  }
}
