import { inTransaction, withClient } from '../../db/connection.js'
import { withAdvisoryLock } from '../../db/locks.js'
import { ident } from '../../sql/ident.js'
import { applyFile, applyPending, ensureHistoryTable, placementLockKey, readApplied, runSeeds, versionOf } from '../apply.js'
import { createPlacementSchema } from '../control-plane.js'
import { describePlacement, schemaForTenant, serverSharedDatabase } from '../placement.js'
import { deleteTenantRows, ensureDatabase, isMissingDatabase, placementDatabaseExists, placementSchemaExists, schemaExists } from './common.js'
import type { IsolationDriver } from './driver.js'

/** A schema per tenant: in the primary database, or in janua's shared database on another server. */
export const schemaDriver: IsolationDriver = {
  level: 'schema',
  sharesPlacement: false,
  ownsDatabase: false,
  leftover: 'schema',

  locate(ctx, slug, server) {
    return { server, database: server === 'primary' ? ctx.primaryDatabase : serverSharedDatabase(ctx.cpId), schema: schemaForTenant(slug) }
  },

  keptPlacement(_ctx, placement, slug, stamp) {
    return { ...placement, schema: `janua_moved_${stamp}_${slug}`.slice(0, 63) }
  },

  exists: (janua, placement) => placementSchemaExists(janua, placement),

  async build(janua, placement, options = {}) {
    const set = janua.templates
    const where = `${options.seed ? `tenant ${options.seed.slug} in ` : ''}${describePlacement(placement)}`
    await ensureDatabase(janua, placement.server, placement.database)
    return withClient(await janua.conn.serverPool(placement.server, placement.database), async (client) =>
      withAdvisoryLock(client, placementLockKey(placement.schema), { ...janua.lockWait, what: where }, async () => {
        const files = set.files.filter((f) => options.toVersion === undefined || f.version <= options.toVersion)
        if (!files.some((f) => f.noTransaction) && !(await schemaExists(client, placement.schema))) {
          // The whole schema in one transaction: a failure or a kill leaves no trace of it.
          return inTransaction(client, async () => {
            await createPlacementSchema(client, placement.schema, janua.appRole)
            await ensureHistoryTable(client, placement.schema)
            for (const file of files) await applyFile(client, placement.schema, file, where, false)
            if (options.seed) await runSeeds(client, placement.schema, set, options.seed, where)
            return versionOf(await readApplied(client, placement.schema))
          })
        }
        // Idempotent path: a schema a killed run left is completed, file by file.
        await createPlacementSchema(client, placement.schema, janua.appRole)
        const result = await applyPending(client, placement.schema, set, { ...janua.lockWait, where, toVersion: options.toVersion })
        if (options.seed) await inTransaction(client, () => runSeeds(client, placement.schema, set, options.seed!, where))
        return result.version
      }),
    )
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
    if (!(await placementDatabaseExists(janua, placement))) return
    await this.connect(janua, placement, (client) => deleteTenantRows(client, placement.schema, tenant))
  },

  async retire(janua, _tenant, placement, options = {}) {
    try {
      if (!(await placementDatabaseExists(janua, placement))) return
      await this.connect(janua, placement, async (client) => {
        if (!(await schemaExists(client, placement.schema))) return
        if (options.keep) await client.query(`alter schema ${ident(placement.schema)} rename to ${ident(options.keep.schema)}`)
        else await client.query(`drop schema ${ident(placement.schema)} cascade`)
      })
    } catch (error) {
      // Its database was dropped by hand meanwhile: the schema is gone with it.
      if (!isMissingDatabase(error)) throw error
    }
  },
}
