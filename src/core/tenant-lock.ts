import { endQuietly } from '../db/connection.js'
import { DEFAULT_LOCK_TIMEOUT_MS, MAX_LOCK_TIMEOUT_MS, formatDuration, withAdvisoryLock } from '../db/locks.js'
import type { Janua } from './context.js'
import { usageError } from './errors.js'

export const tenantLockKey = (slug: string) => `janua:tenant:${slug}`

/**
 * Holds `janua:tenant:<slug>` for the duration of fn on a dedicated session, so that a killed
 * run's leftovers (status provisioning, nobody holding the lock) can be told from a live run.
 * A held lock is waited for up to janua.lockWait (a killed run's backend keeps it until its
 * statement ends), then exit 4.
 */
export async function withTenantLock<T>(janua: Janua, slug: string, fn: () => Promise<T>): Promise<T> {
  // A dedicated session: the lock must outlive no pool checkout, and must not starve the pool.
  const client = await janua.conn.dedicatedClient('primary', janua.conn.primaryDatabase)
  try {
    return await withAdvisoryLock(client, tenantLockKey(slug), { ...janua.lockWait, what: `tenant "${slug}"` }, fn)
  } finally {
    // Ending the session releases its locks; an error while closing it changes nothing of the result.
    await endQuietly(client)
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 }

/**
 * --lock-timeout: milliseconds (`30000`, as before) or a duration (`30s`, `2m`, `1h`, `500ms`);
 * undefined is the default (30 s), 0 fails at once. Out of range or unreadable is exit 2.
 */
export function parseLockTimeout(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LOCK_TIMEOUT_MS
  const hint = 'pass milliseconds or a duration from 0 to 24h, e.g. --lock-timeout 30s, 2m, or 0 to fail at once'
  if (/^\s*-/.test(text)) throw usageError(`invalid --lock-timeout ${JSON.stringify(text)}: a timeout cannot be negative`, hint)
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/i.exec(text)
  if (!match) throw usageError(`invalid --lock-timeout ${JSON.stringify(text)}: not a number of milliseconds or a duration`, hint)
  const ms = Math.round(Number(match[1]) * UNITS[(match[2] ?? 'ms').toLowerCase()]!)
  if (!Number.isSafeInteger(ms) || ms > MAX_LOCK_TIMEOUT_MS)
    throw usageError(`invalid --lock-timeout ${JSON.stringify(text)}: more than ${formatDuration(MAX_LOCK_TIMEOUT_MS)}`, hint)
  return ms
}
