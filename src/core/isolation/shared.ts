import { placementTables, type TableInfo } from '../../catalog/tables.js'
import { inTransaction, withClient } from '../../db/connection.js'
import { withAdvisoryLock } from '../../db/locks.js'
import { sql } from 'kysely'
import { applyPending, placementLockKey, readApplied, runSeeds, versionOf } from '../apply.js'
import { createPlacementSchema } from '../control-plane.js'
import { usageError } from '../errors.js'
import { SHARED_SCHEMA, describePlacement, serverSharedDatabase } from '../placement.js'
import { deleteTenantRows, ensureDatabase, isMissingDatabase, placementDatabaseExists, placementSchemaExists, schemaExists } from './common.js'
import type { IsolationDriver } from './driver.js'

const WHY_SHARED = 'shared tenants are separated only by Row-Level Security on a tenant_id column'

/**
 * Pure: why a placement built from these tables cannot hold shared tenants (a team's own schema
 * without tenant_id, or without forced RLS), or null when it can.
 */
export function sharedRefusal(tables: TableInfo[], templatesDir: string): { message: string; hint: string } | null {
  const tenantTables = tables.filter((t) => t.hasTenantId)
  if (tenantTables.length === 0) {
    return {
      message: `the templates in ${templatesDir} have no table with a tenant_id column, so they cannot hold shared tenants (${WHY_SHARED})`,
      hint: 'use --isolation schema or --isolation database (move: --to schema|database)',
    }
  }
  const unprotected = tenantTables.filter((t) => !t.rlsEnabled || !t.rlsForced).map((t) => t.name)
  if (unprotected.length) {
    return {
      message: `table(s) ${unprotected.join(', ')} have tenant_id but no forced Row-Level Security, so they cannot hold shared tenants (${WHY_SHARED})`,
      hint: 'add ENABLE and FORCE ROW LEVEL SECURITY with a tenant_id policy in a new template file, or use --isolation schema|database',
    }
  }
  return null
}

/** Rows of many tenants in one placement per server: janua_shared in the primary database, or in janua's shared database elsewhere. */
export const sharedDriver: IsolationDriver = {
  level: 'shared',
  sharesPlacement: true,
  ownsDatabase: false,
  leftover: 'rows',

  locate(ctx, _slug, server) {
    return { server, database: server === 'primary' ? ctx.primaryDatabase : serverSharedDatabase(ctx.cpId), schema: SHARED_SCHEMA }
  },

  // A kept shared source stays where it is: the tenant's rows, fenced.
  keptPlacement: (_ctx, placement) => placement,

  exists: (janua, placement) => placementSchemaExists(janua, placement),

  async build(janua, placement, options = {}) {
    const set = janua.templates
    const where = `shared placement ${describePlacement(placement)}`
    await ensureDatabase(janua, placement.server, placement.database)
    const { version, tables } = await withClient(await janua.conn.serverPool(placement.server, placement.database), async (client) => {
      if (!(await schemaExists(client, placement.schema))) {
        // First use on this server: built once, under the placement lock; later `tenant migrate` keeps it current.
        await withAdvisoryLock(client, placementLockKey(placement.schema), { ...janua.lockWait, what: where }, async () => {
          await createPlacementSchema(client, placement.schema, janua.appRole)
          await applyPending(client, placement.schema, set, { ...janua.lockWait, where, toVersion: options.toVersion })
        })
      }
      return { version: versionOf(await readApplied(client, placement.schema)), tables: await placementTables(client, placement.schema) }
    })
    await janua.db
      .insertInto('janua.placements')
      .values({ server: placement.server, database: placement.database, schema: placement.schema, kind: 'shared', version })
      .onConflict((oc) => oc.columns(['server', 'database', 'schema']).doUpdateSet({ version, updated_at: sql`now()` }))
      .execute()
    if (options.seed) {
      const refusal = sharedRefusal(tables, set.dir)
      if (refusal) throw usageError(refusal.message, refusal.hint)
      await this.seed(janua, options.seed, placement)
    }
    return version
  },

  async connect(janua, placement, fn) {
    return withClient(await janua.conn.serverPool(placement.server, placement.database), fn)
  },

  async seed(janua, tenant, placement) {
    await this.connect(janua, placement, (client) =>
      inTransaction(client, () => runSeeds(client, placement.schema, janua.templates, tenant, `tenant ${tenant.slug} in ${describePlacement(placement)}`)),
    )
  },

  async clear(janua, tenant, placement) {
    try {
      if (!(await placementDatabaseExists(janua, placement))) return
      await this.connect(janua, placement, (client) => deleteTenantRows(client, placement.schema, tenant))
    } catch (error) {
      // Its database was dropped by hand: the rows are gone with it.
      if (!isMissingDatabase(error)) throw error
    }
  },

  async retire(janua, tenant, placement, options = {}) {
    // Kept: the rows stay, fenced, where they are (recorded by the caller as a kept source).
    if (options.keep) return
    await this.clear(janua, tenant, placement)
  },
}
