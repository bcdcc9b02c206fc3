import type { IsolationLevel } from '../db/schema.js'

export interface Placement {
  server: string
  database: string
  schema: string
}

/** The shared placement's schema (in the primary database, or a server's shared database). */
export const SHARED_SCHEMA = 'janua_shared'
/** Inside a database tenant's own database. */
export const DATABASE_TENANT_SCHEMA = 'tenant'
export const TENANT_SCHEMA_PREFIX = 'tenant_'

export const schemaForTenant = (slug: string) => `${TENANT_SCHEMA_PREFIX}${slug}`
/** cpId keeps two control planes on one server apart: janua_<8 hex>_<slug> is at most 55 bytes. */
export const databaseForTenant = (cpId: string, slug: string) => `janua_${cpId}_${slug}`
/** "__" cannot occur in a slug, so no tenant database can take these names. */
export const templateDatabase = (cpId: string) => `janua_${cpId}__template`
export const serverSharedDatabase = (cpId: string) => `janua_${cpId}__shared`

export function placementKind(placement: Placement): IsolationLevel {
  if (placement.schema === SHARED_SCHEMA) return 'shared'
  return placement.schema === DATABASE_TENANT_SCHEMA ? 'database' : 'schema'
}

export const describePlacement = (p: Placement) => `${p.server}/${p.database}/${p.schema}`
