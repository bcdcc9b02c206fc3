import type { IsolationLevel } from '../../db/schema.js'
import type { Janua } from '../context.js'
import { knownControlPlane } from '../control-plane.js'
import { databaseDriver } from './database.js'
import type { IsolationDriver, LocateContext } from './driver.js'
import { schemaDriver } from './schema.js'
import { sharedDriver } from './shared.js'

export const drivers: Record<IsolationLevel, IsolationDriver> = {
  shared: sharedDriver,
  schema: schemaDriver,
  database: databaseDriver,
}

export const driverFor = (level: IsolationLevel): IsolationDriver => drivers[level]

/** The driver whose placements leave this kind of leftover (rows, a schema, a database). */
export function driverForLeftover(what: IsolationDriver['leftover']): IsolationDriver {
  return Object.values(drivers).find((d) => d.leftover === what)!
}

/** What `locate` needs, from a run that has read the control plane. */
export function locateContext(janua: Janua): LocateContext {
  const cpId = knownControlPlane(janua)
  if (!cpId) throw new Error('the control plane must be read before placements are located')
  return { cpId, primaryDatabase: janua.conn.primaryDatabase }
}

export type { BuildOptions, IsolationDriver, LocateContext, TenantRef } from './driver.js'
export { databaseExists, schemaExists, isMissingDatabase, restrictDatabase, ensureDatabase, stampOf } from './common.js'
export { sharedRefusal } from './shared.js'
export { refreshTemplateDatabase, templateLockKey } from './database.js'
