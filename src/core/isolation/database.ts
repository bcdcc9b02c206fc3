import type pg from 'pg'
import { inTransaction, withClient, type ClientConfig } from '../../db/connection.js'
import { isPgError } from '../../db/errors.js'
import { withAdvisoryLock } from '../../db/locks.js'
import { ident } from '../../sql/ident.js'
import { applyPending, readApplied, runSeeds, versionOf } from '../apply.js'
import type { Janua } from '../context.js'
import { createPlacementSchema } from '../control-plane.js'
import { ExitCode, JanuaError, PLACEMENT_TAKEN } from '../errors.js'
import { faultPoint } from '../fault.js'
import { DATABASE_TENANT_SCHEMA, databaseForTenant, describePlacement, templateDatabase } from '../placement.js'
import type { IsolationDriver } from './driver.js'
import { schemaExists } from './schema.js'

export async function databaseExists(client: pg.ClientBase, database: string): Promise<boolean> {
  const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database])
  return (rowCount ?? 0) > 0
}

/** A connection to the server's maintenance database, for CREATE/DROP DATABASE. */
async function withServerAdmin<T>(janua: Janua, server: string, fn: (client: pg.ClientBase, config: ClientConfig) => Promise<T>): Promise<T> {
  const config = await janua.conn.serverConfig(server)
  return withClient(await janua.conn.adminPool(server), (client) => fn(client, config))
}

/** Locks the database itself so that only the app role (and janua) may connect. */
export async function restrictDatabase(client: pg.ClientBase, database: string, appRole: string): Promise<void> {
  await client.query(`revoke all on database ${ident(database)} from public`)
  await client.query(`grant connect, temporary on database ${ident(database)} to ${ident(appRole)}`)
}

/**
 * The template database of a server, kept at the newest template version, so that a database
 * tenant is one CREATE DATABASE ... TEMPLATE (tens of ms) instead of a replay of every file.
 * Returns its version. The caller holds the template lock.
 */
export async function refreshTemplateDatabase(janua: Janua, cpId: string, server: string): Promise<{ database: string; version: number; applied: string[] }> {
  const database = templateDatabase(cpId)
  const config = await janua.conn.serverConfig(server)
  await withServerAdmin(janua, server, async (admin) => {
    if (!(await databaseExists(admin, database))) {
      await admin.query(`create database ${ident(database)}`).catch((error) => {
        if (!(isPgError(error) && error.code === '42P04')) throw error
      })
      await admin.query(`revoke all on database ${ident(database)} from public`)
    }
  })
  const result = await withClient(janua.conn.pool(config, database), async (client) => {
    // Older servers let PUBLIC create in schema public; a tenant database must not.
    await client.query('revoke create on schema public from public')
    await createPlacementSchema(client, DATABASE_TENANT_SCHEMA, janua.appRole)
    return applyPending(client, DATABASE_TENANT_SCHEMA, janua.templates, { ...janua.lockWait, where: `template database ${server}/${database}` })
  })
  // CREATE DATABASE ... TEMPLATE needs the template to have no open connection.
  await janua.conn.closeDatabase(config, database)
  return { database, version: result.version, applied: result.applied }
}

export const templateLockKey = (server: string) => `janua:template-database:${server}`

export const databaseDriver: IsolationDriver = {
  level: 'database',

  async placementFor(_janua, cpId, slug, server) {
    return { server, database: databaseForTenant(cpId, slug), schema: DATABASE_TENANT_SCHEMA }
  },

  async provision(janua, cpId, tenant, placement) {
    const where = `tenant ${tenant.slug} in ${describePlacement(placement)}`
    await withServerAdmin(janua, placement.server, async (admin) => {
      if (await databaseExists(admin, placement.database)) {
        throw new JanuaError(`database ${placement.database} already exists but belongs to no tenant`, ExitCode.usage, `inspect it, then drop it (DROP DATABASE ${ident(placement.database)}) or choose another slug`, PLACEMENT_TAKEN)
      }
    })
    // The lock lives in the control plane database: it orders template refreshes and clones of every run.
    const lockClient = await janua.conn.dedicatedClient('primary', janua.conn.primaryDatabase)
    await withAdvisoryLock(lockClient, templateLockKey(placement.server), { ...janua.lockWait, what: `the template database of server ${placement.server}` }, async () => {
        const template = await refreshTemplateDatabase(janua, cpId, placement.server)
        faultPoint('template-ready')
        await withServerAdmin(janua, placement.server, async (admin) => {
          for (let attempt = 0; ; attempt++) {
            try {
              // WAL_LOG (the default strategy) copies without forcing a checkpoint.
              await admin.query(`create database ${ident(placement.database)} template ${ident(template.database)}`)
              break
            } catch (error) {
              // 55006: someone (e.g. db verify) is reading the template right now.
              if (!(isPgError(error) && error.code === '55006') || attempt >= 20) throw error
              await new Promise((r) => setTimeout(r, 250))
            }
          }
          await restrictDatabase(admin, placement.database, janua.appRole)
        })
        faultPoint('database-created')
      }).finally(() => lockClient.end().catch(() => {}))
    const config = await janua.conn.serverConfig(placement.server)
    try {
      return await withClient(janua.conn.pool(config, placement.database), async (client) => {
        await inTransaction(client, () => runSeeds(client, placement.schema, janua.templates, tenant, where))
        faultPoint('seeded')
        return versionOf(await readApplied(client, placement.schema))
      })
    } finally {
      await janua.conn.closeDatabase(config, placement.database)
    }
  },

  async remove(janua, _tenant, placement) {
    const config = await janua.conn.serverConfig(placement.server)
    await janua.conn.closeDatabase(config, placement.database)
    await withServerAdmin(janua, placement.server, (admin) => admin.query(`drop database if exists ${ident(placement.database)} with (force)`))
  },

  async exists(janua, placement) {
    const there = await withServerAdmin(janua, placement.server, (admin) => databaseExists(admin, placement.database))
    if (!there) return false
    return withClient(await janua.conn.serverPool(placement.server, placement.database), (c) => schemaExists(c, placement.schema))
  },
}
