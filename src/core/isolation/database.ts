import type pg from 'pg'
import { endQuietly, inTransaction, withClient } from '../../db/connection.js'
import { isPgError } from '../../db/errors.js'
import { withAdvisoryLock } from '../../db/locks.js'
import { ident } from '../../sql/ident.js'
import { applyPending, readApplied, runSeeds, versionOf } from '../apply.js'
import type { Janua } from '../context.js'
import { createPlacementSchema, knownControlPlane } from '../control-plane.js'
import { faultPoint } from '../fault.js'
import { DATABASE_TENANT_SCHEMA, databaseForTenant, describePlacement, templateDatabase } from '../placement.js'
import { databaseExists, deleteTenantRows, restrictDatabase, withServerAdmin } from './common.js'
import type { IsolationDriver } from './driver.js'

/** Prepares a new or cloned tenant database's inside: schema public closed, the placement schema. */
async function prepareInside(client: pg.ClientBase, appRole: string): Promise<void> {
  // Older servers let PUBLIC create in schema public; a tenant database must not.
  await client.query('revoke create on schema public from public')
  await createPlacementSchema(client, DATABASE_TENANT_SCHEMA, appRole)
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
    if (await databaseExists(admin, database)) return
    try {
      await admin.query(`create database ${ident(database)}`)
    } catch (error) {
      // 42P04: a concurrent run (of another control plane's lock) created it first.
      if (!(isPgError(error) && error.code === '42P04')) throw error
    }
    await admin.query(`revoke all on database ${ident(database)} from public`)
  })
  const result = await withClient(janua.conn.pool(config, database), async (client) => {
    await prepareInside(client, janua.appRole)
    return applyPending(client, DATABASE_TENANT_SCHEMA, janua.templates, { ...janua.lockWait, where: `template database ${server}/${database}` })
  })
  // CREATE DATABASE ... TEMPLATE needs the template to have no open connection.
  await janua.conn.closeDatabase(config, database)
  return { database, version: result.version, applied: result.applied }
}

export const templateLockKey = (server: string) => `janua:template-database:${server}`

/** Clones the server's template database (refreshed to the newest version first) as the tenant's database. */
async function cloneTemplate(janua: Janua, database: string, server: string): Promise<void> {
  const cpId = knownControlPlane(janua)!
  // The lock lives in the control plane database: it orders template refreshes and clones of every run.
  const lockClient = await janua.conn.dedicatedClient('primary', janua.conn.primaryDatabase)
  try {
    await withAdvisoryLock(lockClient, templateLockKey(server), { ...janua.lockWait, what: `the template database of server ${server}` }, async () => {
      const template = await refreshTemplateDatabase(janua, cpId, server)
      faultPoint('template-ready')
      await withServerAdmin(janua, server, async (admin) => {
        for (let attempt = 0; ; attempt++) {
          try {
            // WAL_LOG (the default strategy) copies without forcing a checkpoint.
            await admin.query(`create database ${ident(database)} template ${ident(template.database)}`)
            break
          } catch (error) {
            // 42P04: a killed run's backend finished its own CREATE DATABASE after that run's
            // leftovers were looked for (a backend completes its statement before it notices its
            // client is gone). CREATE DATABASE is atomic: the clone is whole, build completes it.
            if (isPgError(error) && error.code === '42P04') break
            // 55006: someone (e.g. db verify) is reading the template right now.
            if (!(isPgError(error) && error.code === '55006') || attempt >= 20) throw error
            await new Promise((r) => setTimeout(r, 250))
          }
        }
        await restrictDatabase(admin, database, janua.appRole)
      })
      faultPoint('database-created')
    })
  } finally {
    // Ending a session cannot lose data; the lock goes with it.
    await endQuietly(lockClient)
  }
}

export const databaseDriver: IsolationDriver = {
  level: 'database',
  sharesPlacement: false,
  ownsDatabase: true,
  leftover: 'database',

  locate(ctx, slug, server) {
    return { server, database: databaseForTenant(ctx.cpId, slug), schema: DATABASE_TENANT_SCHEMA }
  },

  keptPlacement(ctx, placement, _slug, stamp) {
    return { ...placement, database: `janua_${ctx.cpId}__moved_${stamp}_${placement.database.slice(`janua_${ctx.cpId}_`.length)}`.slice(0, 63) }
  },

  async exists(janua, placement) {
    return withServerAdmin(janua, placement.server, (admin) => databaseExists(admin, placement.database))
  },

  async build(janua, placement, options = {}) {
    const where = `${options.seed ? `tenant ${options.seed.slug} in ` : ''}${describePlacement(placement)}`
    const set = janua.templates
    if (!(await this.exists(janua, placement))) {
      if (options.toVersion === undefined || options.toVersion === set.latest) {
        await cloneTemplate(janua, placement.database, placement.server)
      } else {
        // An older version (a move of a tenant behind the newest templates): built file by file.
        await withServerAdmin(janua, placement.server, async (admin) => {
          await admin.query(`create database ${ident(placement.database)}`)
          await restrictDatabase(admin, placement.database, janua.appRole)
        })
      }
    } else {
      // A database a killed run left may have been created but not yet closed to PUBLIC.
      await withServerAdmin(janua, placement.server, (admin) => restrictDatabase(admin, placement.database, janua.appRole))
    }
    // A database a killed run left (CREATE DATABASE is atomic) is completed here; a fresh clone has nothing pending.
    return this.connect(janua, placement, async (client) => {
      await prepareInside(client, janua.appRole)
      await applyPending(client, placement.schema, set, { ...janua.lockWait, where, toVersion: options.toVersion ?? set.latest })
      if (options.seed) {
        await inTransaction(client, () => runSeeds(client, placement.schema, set, options.seed!, where))
        faultPoint('seeded')
      }
      return versionOf(await readApplied(client, placement.schema))
    })
  },

  async connect(janua, placement, fn) {
    // A dedicated session: no pool keeps the database open, so it can be dropped or renamed after.
    const client = await janua.conn.dedicatedClient(placement.server, placement.database)
    try {
      return await fn(client)
    } finally {
      // Ending a session cannot lose data; its own failure says nothing about fn's work.
      await endQuietly(client)
    }
  },

  async seed(janua, tenant, placement) {
    await this.connect(janua, placement, (client) =>
      inTransaction(client, () => runSeeds(client, placement.schema, janua.templates, tenant, `tenant ${tenant.slug} in ${describePlacement(placement)}`)),
    )
  },

  async clear(janua, tenant, placement) {
    if (!(await this.exists(janua, placement))) return
    await this.connect(janua, placement, (client) => deleteTenantRows(client, placement.schema, tenant))
  },

  async retire(janua, _tenant, placement, options = {}) {
    const config = await janua.conn.serverConfig(placement.server)
    await janua.conn.closeDatabase(config, placement.database)
    await withServerAdmin(janua, placement.server, async (admin) => {
      if (!(await databaseExists(admin, placement.database))) return
      if (options.keep) {
        // A renamed database must have no session: the tenant moved, its old sessions go.
        await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [placement.database])
        await admin.query(`alter database ${ident(placement.database)} rename to ${ident(options.keep.database)}`)
      } else {
        await admin.query(`drop database if exists ${ident(placement.database)} with (force)`)
      }
    })
  },
}
