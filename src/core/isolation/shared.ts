import { placementTables } from '../../catalog/tables.js'
import { inTransaction, withClient } from '../../db/connection.js'
import { ident } from '../../sql/ident.js'
import { readApplied, runSeeds, versionOf } from '../apply.js'
import type { Janua } from '../context.js'
import { usageError } from '../errors.js'
import { SHARED_SCHEMA, describePlacement, type Placement } from '../placement.js'
import type { IsolationDriver } from './driver.js'
import { schemaExists } from './schema.js'
import { ensureServerSharedDatabase } from '../servers.js'

/**
 * Rows of many tenants in one placement are kept apart only by RLS on tenant_id: a template
 * folder whose tables lack it (a team's existing schema) cannot hold shared tenants.
 */
export async function assertSharedCapable(janua: Janua, placement: Placement): Promise<void> {
  const tables = await withClient(await janua.conn.serverPool(placement.server, placement.database), (c) => placementTables(c, placement.schema))
  const tenantTables = tables.filter((t) => t.hasTenantId)
  const why = 'shared tenants are separated only by Row-Level Security on a tenant_id column'
  if (tenantTables.length === 0) {
    throw usageError(`the templates in ${janua.settings.templatesDir} have no table with a tenant_id column, so they cannot hold shared tenants (${why})`,
      'create this tenant with --isolation schema or --isolation database')
  }
  const unprotected = tenantTables.filter((t) => !t.rlsEnabled || !t.rlsForced).map((t) => t.name)
  if (unprotected.length) {
    throw usageError(`table(s) ${unprotected.join(', ')} have tenant_id but no forced Row-Level Security, so they cannot hold shared tenants (${why})`,
      'add ENABLE and FORCE ROW LEVEL SECURITY with a tenant_id policy in a new template file, or use --isolation schema|database')
  }
}

export const sharedDriver: IsolationDriver = {
  level: 'shared',

  async placementFor(janua, cpId, _slug, server) {
    if (server !== 'primary') return ensureServerSharedDatabase(janua, cpId, server)
    return { server: 'primary', database: janua.conn.primaryDatabase, schema: SHARED_SCHEMA }
  },

  async provision(janua, _cpId, tenant, placement) {
    await assertSharedCapable(janua, placement)
    return withClient(await janua.conn.serverPool(placement.server, placement.database), async (client) => {
      const version = versionOf(await readApplied(client, placement.schema))
      await inTransaction(client, () => runSeeds(client, placement.schema, janua.templates, tenant, `tenant ${tenant.slug} in ${describePlacement(placement)}`))
      return version
    })
  },

  async remove(janua, tenant, placement) {
    await withClient(await janua.conn.serverPool(placement.server, placement.database), async (client) => {
      if (!(await schemaExists(client, placement.schema))) return
      const tables = (await placementTables(client, placement.schema)).filter((t) => t.hasTenantId).reverse()
      await inTransaction(client, async () => {
        for (const table of tables) {
          await client.query(`delete from ${ident(placement.schema)}.${ident(table.name)} where tenant_id = $1`, [tenant.id])
        }
      })
    })
  },

  async exists(janua, placement) {
    return withClient(await janua.conn.serverPool(placement.server, placement.database), (c) => schemaExists(c, placement.schema))
  },
}
