import type { IsolationLevel } from '../../db/schema.js'
import { databaseDriver } from './database.js'
import type { IsolationDriver } from './driver.js'
import { schemaDriver } from './schema.js'
import { sharedDriver } from './shared.js'

export const drivers: Record<IsolationLevel, IsolationDriver> = {
  shared: sharedDriver,
  schema: schemaDriver,
  database: databaseDriver,
}
export type { IsolationDriver, TenantRef } from './driver.js'
