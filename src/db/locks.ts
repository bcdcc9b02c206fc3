import type pg from 'pg'
import { ExitCode, JanuaError, isPgError } from './errors.js'

/**
 * Session-level advisory lock on a text key (hashed to bigint). Advisory locks are per database,
 * so a placement's lock lives in the placement's own database: never one lock for a whole fleet.
 * lockTimeoutMs: wait at most that long, then fail with exit 4; undefined waits forever.
 */
export async function withAdvisoryLock<T>(
  client: pg.ClientBase,
  key: string,
  options: { lockTimeoutMs?: number; what?: string },
  fn: () => Promise<T>,
): Promise<T> {
  const timeout = options.lockTimeoutMs === undefined ? '0' : `${Math.max(1, Math.round(options.lockTimeoutMs))}ms`
  await client.query(`select set_config('lock_timeout', $1, false)`, [timeout])
  try {
    await client.query('select pg_advisory_lock(hashtextextended($1, 0))', [key])
  } catch (error) {
    if (isPgError(error) && error.code === '55P03') {
      throw new JanuaError(`${options.what ?? key} is locked by another janua run`, ExitCode.locked, 'wait for it to finish, or raise --lock-timeout')
    }
    throw error
  } finally {
    await client.query(`select set_config('lock_timeout', '0', false)`).catch(() => {})
  }
  try {
    return await fn()
  } finally {
    await client.query('select pg_advisory_unlock(hashtextextended($1, 0))', [key]).catch(() => {})
  }
}

/** Non-blocking variant: true when the lock was taken (the caller must unlock). */
export async function tryAdvisoryLock(client: pg.ClientBase, key: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as ok', [key])
  return rows[0]!.ok
}

export async function advisoryUnlock(client: pg.ClientBase, key: string): Promise<void> {
  await client.query('select pg_advisory_unlock(hashtextextended($1, 0))', [key])
}
