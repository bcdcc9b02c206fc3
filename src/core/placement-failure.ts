import pg from 'pg'
import { endQuietly, withClient } from '../db/connection.js'
import { isMissingDatabase, isUnreachable, MISSING_DATABASE, translateError } from '../db/errors.js'
import type { Janua } from './context.js'
import { ExitCode, JanuaError } from './errors.js'
import type { Placement } from './placement.js'

/**
 * A placement whose database is gone (dropped by hand): that placement fails alone (exit 1),
 * and the message says how to retire its tenants, since fleet reports carry no hint.
 */
export function missingDatabaseError(placement: Placement, tenants: string[]): JanuaError {
  const where = `database ${placement.database}${tenants.length ? ` of tenant${tenants.length > 1 ? 's' : ''} ${tenants.join(', ')}` : ''} does not exist on server ${placement.server}`
  const fix = tenants.length
    ? `it was dropped outside janua; restore it from a backup, or remove ${tenants.length > 1 ? 'each tenant' : 'the tenant'} with ${tenants.map((t) => `\`janua tenant drop ${t}\``).join(', ')}`
    : 'it was dropped outside janua; the next database tenant created on that server builds it again'
  return new JanuaError(`${where}; ${fix}`, ExitCode.failed, undefined, MISSING_DATABASE, { server: placement.server, database: placement.database, tenants })
}

/** How long the probe may wait for a DROP DATABASE in progress (it checkpoints, slow on a busy server). */
const DROP_WAIT_MS = 120_000

/**
 * Why one placement of a fleet run failed, and whether its whole server should count as down.
 * A missing database (3D000, or this session terminated by DROP DATABASE ... WITH (FORCE))
 * fails its placement alone; a lost connection counts the server down only when the server
 * itself no longer answers.
 */
export async function placementFailure(janua: Janua, placement: Placement, tenants: string[], error: unknown): Promise<{ failure: JanuaError; serverDown: boolean }> {
  if (isMissingDatabase(error)) return { failure: missingDatabaseError(placement, tenants), serverDown: false }
  const failure = error instanceof JanuaError ? error : translateError(error)
  if (!isUnreachable(error) && failure.exitCode !== ExitCode.unreachable) return { failure, serverDown: false }
  let listed: boolean
  try {
    listed = await withClient(
      await janua.conn.adminPool(placement.server),
      async (c) => ((await c.query('select 1 from pg_database where datname = $1', [placement.database])).rowCount ?? 0) > 0,
    )
  } catch {
    // The server does not answer either: the original failure is reported, for this placement
    // and (serverDown) for the server's remaining ones.
    return { failure, serverDown: true }
  }
  if (!listed) return { failure: missingDatabaseError(placement, tenants), serverDown: false }
  // The server answers and still lists the database: a connection to it waits for a DROP DATABASE
  // in progress and then fails with 3D000, or succeeds when the database stays.
  const probe = new pg.Client({ ...janua.conn.configFor(await janua.conn.serverConfig(placement.server), placement.database), connectionTimeoutMillis: DROP_WAIT_MS })
  probe.on('error', () => {
    // A dropped connection surfaces as the connect or end error below.
  })
  try {
    await probe.connect()
  } catch (probeError) {
    return { failure: isMissingDatabase(probeError) ? missingDatabaseError(placement, tenants) : failure, serverDown: false }
  }
  // The probe only had to connect; an error while closing it changes nothing of the verdict.
  await endQuietly(probe)
  return { failure, serverDown: false }
}
