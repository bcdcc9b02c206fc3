import type pg from 'pg'
import { placementTables } from '../../catalog/tables.js'
import { endQuietly, inTransaction, withClient } from '../../db/connection.js'
import { withAdvisoryLock } from '../../db/locks.js'
import { ident } from '../../sql/ident.js'
import type { Janua } from '../context.js'
import { ensureAppRole } from '../control-plane.js'
import { removeFence } from '../fence.js'
import type { Placement } from '../placement.js'
import type { TenantRef } from './driver.js'

/** Building blocks the three drivers share. Nothing here knows a level. */

export async function databaseExists(client: pg.ClientBase, database: string): Promise<boolean> {
  const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database])
  return (rowCount ?? 0) > 0
}

export async function schemaExists(client: pg.ClientBase, schema: string): Promise<boolean> {
  const { rowCount } = await client.query('select 1 from pg_namespace where nspname = $1', [schema])
  return (rowCount ?? 0) > 0
}

/** SQLSTATE 3D000 (or janua's error for it): the placement's database does not exist (dropped by hand). */
export { isMissingDatabase } from '../../db/errors.js'

/** A connection to the server's maintenance database, for CREATE/DROP/ALTER DATABASE. */
export async function withServerAdmin<T>(janua: Janua, server: string, fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  return withClient(await janua.conn.adminPool(server), fn)
}

/** Whether the placement's database exists on its server (the primary's always does). */
export async function placementDatabaseExists(janua: Janua, placement: Placement): Promise<boolean> {
  if (placement.server === 'primary' && placement.database === janua.conn.primaryDatabase) return true
  return withServerAdmin(janua, placement.server, (admin) => databaseExists(admin, placement.database))
}

/** Whether the placement's schema exists, false when even its database is missing. Reads only. */
export async function placementSchemaExists(janua: Janua, placement: Placement): Promise<boolean> {
  if (!(await placementDatabaseExists(janua, placement))) return false
  return withClient(await janua.conn.serverPool(placement.server, placement.database), (c) => schemaExists(c, placement.schema))
}

/** Locks the database itself so that only the app role (and janua) may connect. */
export async function restrictDatabase(client: pg.ClientBase, database: string, appRole: string): Promise<void> {
  await client.query(`revoke all on database ${ident(database)} from public`)
  await client.query(`grant connect, temporary on database ${ident(database)} to ${ident(appRole)}`)
}

/**
 * Creates a janua database on a server (a non-primary server's shared database) if missing, with the
 * app role, closed to PUBLIC. Serialised per server by a lock in the control plane's database.
 */
export async function ensureDatabase(janua: Janua, server: string, database: string): Promise<void> {
  if (server === 'primary' && database === janua.conn.primaryDatabase) return
  if (await placementDatabaseExists(janua, { server, database, schema: '' })) return
  const lock = await janua.conn.dedicatedClient('primary', janua.conn.primaryDatabase)
  try {
    await withAdvisoryLock(lock, `janua:database:${server}:${database}`, { ...janua.lockWait, what: `database ${database} on ${server}` }, async () => {
      await withServerAdmin(janua, server, async (admin) => {
        await ensureAppRole(admin, janua.appRole)
        if (await databaseExists(admin, database)) return
        await admin.query(`create database ${ident(database)}`)
        await restrictDatabase(admin, database, janua.appRole)
      })
      await withClient(await janua.conn.serverPool(server, database), async (client) => {
        // Older servers let PUBLIC create in schema public; a janua database must not.
        await client.query('revoke create on schema public from public')
      })
    })
  } finally {
    // Ending a session cannot lose data; its own failure says nothing about the work above.
    await endQuietly(lock)
  }
}

/**
 * Deletes the tenant's rows from every tenant table of a placement, children first, and its write
 * fence, in one transaction. Replica mode: the fence (and FK triggers) must not fire on this delete.
 */
export async function deleteTenantRows(client: pg.ClientBase, schema: string, tenant: TenantRef): Promise<void> {
  if (!(await schemaExists(client, schema))) return
  const tables = (await placementTables(client, schema)).filter((t) => t.hasTenantId)
  await inTransaction(client, async () => {
    await client.query('set local session_replication_role = replica')
    for (const table of [...tables].reverse()) {
      await client.query(`delete from ${ident(schema)}.${ident(table.name)} where tenant_id = $1`, [tenant.id])
    }
    await removeFence(
      client,
      schema,
      tables.map((t) => t.name),
      tenant.id,
    )
  })
}

/** A timestamp for names of kept sources: sortable, digits only. */
export const stampOf = (date: Date) => date.toISOString().replace(/\D/g, '').slice(0, 14)
