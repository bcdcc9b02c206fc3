import type { IsolationLevel } from '../../db/schema.js'
import type { Janua } from '../context.js'
import type { Placement } from '../placement.js'

export interface TenantRef {
  id: string
  slug: string
  name: string
}

/** One interface, three implementations: how a level places, builds and removes a tenant. */
export interface IsolationDriver {
  level: IsolationLevel
  /** where a new tenant of this level goes on a server */
  placementFor(janua: Janua, cpId: string, slug: string, server: string): Promise<Placement>
  /** builds the placement (if the level owns one) at the newest version and seeds the tenant; returns the version */
  provision(janua: Janua, cpId: string, tenant: TenantRef, placement: Placement): Promise<number>
  /** removes the tenant's rows, schema or database; a no-op when already gone */
  remove(janua: Janua, tenant: TenantRef, placement: Placement): Promise<void>
  /** whether the placement's schema exists */
  exists(janua: Janua, placement: Placement): Promise<boolean>
}
