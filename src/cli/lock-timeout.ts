import * as Flags from '@oclif/core/flags'
import type { LockWaitEvent } from '../db/locks.js'
import { formatDuration } from '../db/locks.js'

/** --lock-timeout of every command that takes locks; parsed (and range-checked) by the core's parseLockTimeout. */
export const lockTimeoutFlag = (
  summary = 'how long to wait for a tenant, placement or template lock held by another run, in milliseconds or as a duration (30s, 2m); 0 fails at once. Then exit 4',
) => Flags.string({ summary, helpValue: '30s' })

/** The line on stderr while janua waits for a lock (never under --json). */
export function lockWaitLine(event: LockWaitEvent): string {
  const limit = event.timeoutMs === undefined ? '' : ` up to ${formatDuration(event.timeoutMs)}`
  return `waiting${limit} for ${event.what}, locked by another janua run (a killed run's lock is freed when its last statement ends)\n`
}
