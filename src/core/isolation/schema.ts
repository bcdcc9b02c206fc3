import type pg from 'pg'
import { inTransaction, withClient } from '../../db/connection.js'
import { withAdvisoryLock } from '../../db/locks.js'
import { ident } from '../../sql/ident.js'
import { applyFile, applyPending, ensureHistoryTable, placementLockKey, runSeeds } from '../apply.js'
import { createPlacementSchema } from '../control-plane.js'
import { ExitCode, JanuaError, PLACEMENT_TAKEN } from '../errors.js'
import { describePlacement, schemaForTenant } from '../placement.js'
import type { IsolationDriver } from './driver.js'
import { ensureServerSharedDatabase } from '../servers.js'

export async function schemaExists(client: pg.ClientBase, schema: string): Promise<boolean> {
  const { rowCount } = await client.query('select 1 from pg_namespace where nspname = $1', [schema])
  return (rowCount ?? 0) > 0
}

export const schemaDriver: IsolationDriver = {
  level: 'schema',

  async placementFor(janua, cpId, slug, server) {
    // On another server, schema tenants live in janua's shared database there.
    if (server !== 'primary') return { ...(await ensureServerSharedDatabase(janua, cpId, server)), schema: schemaForTenant(slug) }
    return { server: 'primary', database: janua.conn.primaryDatabase, schema: schemaForTenant(slug) }
  },

  async provision(janua, _cpId, tenant, placement) {
    const set = janua.templates
    const where = `tenant ${tenant.slug} in ${describePlacement(placement)}`
    return withClient(await janua.conn.serverPool(placement.server, placement.database), async (client) => {
      if (await schemaExists(client, placement.schema)) {
        throw new JanuaError(`schema ${placement.schema} already exists but belongs to no tenant`, ExitCode.usage, `inspect it, then drop it (DROP SCHEMA ${ident(placement.schema)} CASCADE) or choose another slug`, PLACEMENT_TAKEN)
      }
      return withAdvisoryLock(client, placementLockKey(placement.schema), { ...janua.lockWait, what: where }, async () => {
        if (!set.files.some((f) => f.noTransaction)) {
          // The whole schema in one transaction: a failure or a kill leaves no trace of it.
          await inTransaction(client, async () => {
            await createPlacementSchema(client, placement.schema, janua.appRole)
            await ensureHistoryTable(client, placement.schema)
            for (const file of set.files) await applyFile(client, placement.schema, file, where, false)
            await runSeeds(client, placement.schema, set, tenant, where)
          })
          return set.latest
        }
        await createPlacementSchema(client, placement.schema, janua.appRole)
        const result = await applyPending(client, placement.schema, set, { ...janua.lockWait, where })
        await inTransaction(client, () => runSeeds(client, placement.schema, set, tenant, where))
        return result.version
      })
    })
  },

  async remove(janua, _tenant, placement) {
    await withClient(await janua.conn.serverPool(placement.server, placement.database), (c) => c.query(`drop schema if exists ${ident(placement.schema)} cascade`))
  },

  async exists(janua, placement) {
    return withClient(await janua.conn.serverPool(placement.server, placement.database), (c) => schemaExists(c, placement.schema))
  },
}
