import type pg from 'pg'
import type { IsolationLevel } from '../../db/schema.js'
import type { Janua } from '../context.js'
import type { Placement } from '../placement.js'

export interface TenantRef {
  id: string
  slug: string
  name: string
}

/** What locating a placement needs: names only, no connection. */
export interface LocateContext {
  /** the control plane's id: keeps two control planes on one server apart */
  cpId: string
  /** the primary's database (the control plane's), home of the primary's shared and schema placements */
  primaryDatabase: string
}

export interface BuildOptions {
  /** the template version to build to; the newest when absent */
  toVersion?: number
  /** seed this tenant in the same unit of work as the build, where the level allows it */
  seed?: TenantRef
}

/**
 * One interface, three implementations: the only code that knows how a level places, builds,
 * connects to, seeds, clears and retires a tenant's placement. The rest of janua composes these
 * methods and asks the capability properties, never which level it holds.
 *
 * Every method that changes something can run again after a kill and finishes the job.
 */
export interface IsolationDriver {
  readonly level: IsolationLevel
  /** several tenants live in one placement, separated by RLS on tenant_id (rows, not a placement, are the tenant's) */
  readonly sharesPlacement: boolean
  /** the placement is a database of its own */
  readonly ownsDatabase: boolean
  /** what a leftover of this level is: the tenant's rows, a schema, or a database */
  readonly leftover: 'rows' | 'schema' | 'database'

  /** Pure: where a tenant of this level lives on a server. */
  locate(ctx: LocateContext, slug: string, server: string): Placement
  /** Pure: where a source kept by --keep-source goes (renamed out of the tenant's names), or the source itself when it stays in place. */
  keptPlacement(ctx: LocateContext, placement: Placement, slug: string, stamp: string): Placement
  /** Whether the placement exists: its database (database level) or its schema. Reads only. */
  exists(janua: Janua, placement: Placement): Promise<boolean>
  /**
   * Makes the placement exist at a template version (the newest when absent) and seeds `options.seed`.
   * A shared placement that exists is never migrated here (that is `tenant migrate`'s job).
   * Returns the placement's version.
   */
  build(janua: Janua, placement: Placement, options?: BuildOptions): Promise<number>
  /** Runs fn on a session in the placement's database (a dedicated one for a database of its own, so it can be dropped after). */
  connect<T>(janua: Janua, placement: Placement, fn: (client: pg.ClientBase) => Promise<T>): Promise<T>
  /** Runs the per-tenant seed files for the tenant in the placement. */
  seed(janua: Janua, tenant: TenantRef, placement: Placement): Promise<void>
  /** Deletes the tenant's rows (and its write fence) from the placement; the placement stays. */
  clear(janua: Janua, tenant: TenantRef, placement: Placement): Promise<void>
  /**
   * The tenant leaves the placement: its rows go (shared), or the schema or database is dropped.
   * With `keep`, the data stays for a manual check: renamed to `keep` (schema, database) or left
   * fenced in place (shared). A placement already gone counts as retired.
   */
  retire(janua: Janua, tenant: TenantRef, placement: Placement, options?: { keep?: Placement }): Promise<void>
}
