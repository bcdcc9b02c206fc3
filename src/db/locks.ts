import type pg from 'pg'
import { ExitCode, JanuaError, isPgError, isUnreachable } from './errors.js'

/** What janua waits for when a lock is taken: shown to the operator by the command layer. */
export interface LockWaitEvent {
  /** the locked thing, for people: `tenant "acme"`, `the template database of primary` */
  what: string
  /** how long janua waits at most (undefined: until the lock is free) */
  timeoutMs?: number
}

/**
 * How an operation waits for a lock held by another session: at most lockTimeoutMs (0: not at
 * all, fail at once with exit 4), telling onWait once when it starts waiting.
 */
export interface LockWait {
  lockTimeoutMs?: number
  onWait?: (event: LockWaitEvent) => void
}

/**
 * Single-tenant commands wait this long by default: a killed run's backend keeps its session
 * locks until it finishes its statement and notices the client is gone.
 */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000

/** The upper bound of --lock-timeout (PostgreSQL's lock_timeout takes at most 2^31-1 ms). */
export const MAX_LOCK_TIMEOUT_MS = 24 * 60 * 60 * 1000

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms >= 3_600_000) return `${ms / 3_600_000} h`
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000} min`
  if (ms % 1000 === 0 && ms >= 1000) return `${ms / 1000} s`
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`
}

function lockedError(what: string, timeoutMs: number | undefined): JanuaError {
  const waited = timeoutMs ? ` (still held after ${formatDuration(timeoutMs)})` : ''
  return new JanuaError(
    `${what} is locked by another janua run${waited}`,
    ExitCode.locked,
    timeoutMs ? 'wait for that run to finish, or raise --lock-timeout (e.g. --lock-timeout 2m)' : 'wait for that run to finish, or pass --lock-timeout (e.g. 30s) to wait for it',
  )
}

const LOCK = 'select pg_advisory_lock(hashtextextended($1, 0))'
const TRY_LOCK = 'select pg_try_advisory_lock(hashtextextended($1, 0)) as ok'
const UNLOCK = 'select pg_advisory_unlock(hashtextextended($1, 0))'

/** Blocks until the session holds the lock, at most timeoutMs (undefined: no limit); 55P03 after that. */
async function waitForLock(client: pg.ClientBase, key: string, timeoutMs: number | undefined): Promise<void> {
  await client.query(`select set_config('lock_timeout', $1, false)`, [timeoutMs === undefined ? '0' : `${Math.max(1, Math.round(timeoutMs))}ms`])
  let failure: unknown
  try {
    await client.query(LOCK, [key])
  } catch (error) {
    failure = error
  }
  // The session may go back to a pool: its lock_timeout must not outlive this wait. A reset that
  // fails means the session is broken; that failure is what the caller must see.
  await client.query('reset lock_timeout')
  if (failure !== undefined) throw failure
}

/**
 * Session-level advisory lock on a text key (hashed to bigint). Advisory locks are per database,
 * so a placement's lock lives in the placement's own database: never one lock for a whole fleet.
 * A lock that is free is taken at once; a held one is waited for (onWait is told) up to
 * lockTimeoutMs, then exit 4. lockTimeoutMs 0 fails at once; undefined waits as long as it takes.
 */
export async function withAdvisoryLock<T>(client: pg.ClientBase, key: string, options: LockWait & { what?: string }, fn: () => Promise<T>): Promise<T> {
  const what = options.what ?? key
  if (!(await tryAdvisoryLock(client, key))) {
    if (options.lockTimeoutMs === 0) throw lockedError(what, 0)
    options.onWait?.({ what, timeoutMs: options.lockTimeoutMs })
    try {
      await waitForLock(client, key, options.lockTimeoutMs)
    } catch (error) {
      if (isPgError(error) && error.code === '55P03') throw lockedError(what, options.lockTimeoutMs)
      throw error
    }
  }
  let result: T
  try {
    result = await fn()
  } catch (error) {
    // fn's failure is the one to report: an unlock that fails too (a session left in an aborted
    // transaction) has the same cause, and the caller ends or discards that session.
    await releaseLock(client, key).catch(() => undefined)
    throw error
  }
  await releaseLock(client, key)
  return result
}

/** Unlocks; a session whose connection is gone has lost its locks with it, so that is no failure. */
async function releaseLock(client: pg.ClientBase, key: string): Promise<void> {
  try {
    await advisoryUnlock(client, key)
  } catch (error) {
    if (!isUnreachable(error)) throw error
  }
}

/** Non-blocking variant: true when the lock was taken (the caller must unlock). */
export async function tryAdvisoryLock(client: pg.ClientBase, key: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(TRY_LOCK, [key])
  return rows[0]!.ok
}

export async function advisoryUnlock(client: pg.ClientBase, key: string): Promise<void> {
  await client.query(UNLOCK, [key])
}
