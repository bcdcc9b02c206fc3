import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { parseIntoClientConfig } from 'pg-connection-string'
import { inject } from 'vitest'
import { recordSeen } from './secret-ledger.js'

export interface TestDatabase {
  /** URL of the fresh database: the test's primary (control plane) database */
  url: string
  name: string
  admin: pg.ClientConfig
  /** a client on the fresh database, as the admin user */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>
  /** a client on another database of the same server */
  queryIn<R extends pg.QueryResultRow = pg.QueryResultRow>(database: string, text: string, values?: unknown[]): Promise<pg.QueryResult<R>>
  /** drops the database and every database its control plane created */
  drop(): Promise<void>
}

export function adminUrl(): string {
  return inject('adminUrl')
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

async function once<R extends pg.QueryResultRow>(config: pg.ClientConfig, text: string, values?: unknown[]) {
  const client = new pg.Client(config)
  await client.connect()
  try {
    return await client.query<R>(text, values)
  } finally {
    await client.end()
  }
}

/** A fresh database per test file, so files run side by side on one (possibly shared) server. */
export async function freshDatabase(label = 't'): Promise<TestDatabase> {
  const base = adminUrl()
  const admin = parseIntoClientConfig(base)
  const name = `janua_test_${label}_${randomBytes(4).toString('hex')}`
  await once(admin, `create database "${name}"`)
  const url = withDatabase(base, name)
  const mine = { ...admin, database: name }
  return {
    url,
    name,
    admin,
    query: (text, values) => once(mine, text, values),
    queryIn: (database, text, values) => once({ ...admin, database }, text, values),
    async drop() {
      const id = await once<{ value: string }>(mine, `select value from janua.meta where key = 'id'`)
        .then((r) => r.rows[0]?.value)
        // no control plane in this database (the test never initialized it): no databases of its own to drop
        .catch(() => undefined)
      const databases = id
        ? (await once<{ datname: string }>(admin, `select datname from pg_database where datname like $1`, [`janua\\_${id}\\_%`])).rows.map((r) => r.datname)
        : []
      await recordControlPlane(mine, name)
      for (const db of [...databases, name]) await once(admin, `drop database if exists "${db}" with (force)`)
      // Cluster-wide roles of the control plane (tenant login roles and their group) go last: their grants went with the databases.
      const roles = id
        ? (await once<{ rolname: string }>(admin, `select rolname from pg_roles where rolname like $1 order by length(rolname) desc`, [`janua\\_${id}\\_%`])).rows
        : []
      for (const r of roles) await once(admin, `drop owned by "${r.rolname}"`).then(() => once(admin, `drop role if exists "${r.rolname}"`))
    },
  }
}

/** Every row of the control plane's tables, as text, into the secret ledger before the database goes. */
async function recordControlPlane(config: pg.ClientConfig, name: string): Promise<void> {
  const tables = await once<{ name: string }>(config, `select format('%I.%I', schemaname, tablename) as name from pg_tables where schemaname = 'janua'`)
  for (const { name: table } of tables.rows) {
    const rows = await once<{ row: string }>(config, `select t::text as row from ${table} t`)
    recordSeen(`${name} ${table}`, rows.rows.map((r) => r.row).join('\n'))
  }
}
