import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { ControlPlane } from './schema.js'
import { rememberSecret } from './redact.js'
import { ConnectionStringError, parseConnectionString, toClientConfig, type ParsedConnection } from './connection-string.js'
import { translateError, usageError } from './errors.js'

// int8 (counts, bigserial ids) as strings would leak into JSON as "12": parse to number when safe.
pg.types.setTypeParser(20, (v) => {
  const n = Number(v)
  return Number.isSafeInteger(n) ? n : v
})

export type ClientConfig = pg.ClientConfig

const CONNECTION_HINT = 'use postgres://USER@HOST:PORT/DATABASE (give the password in the environment, e.g. --url-env, or in ~/.pgpass) or libpq key=value pairs'

/**
 * Parses a connection string once: its node-postgres config, and its parts (whose `safe` string
 * has no password, for storing and printing). Every secret in it is remembered for redaction.
 * Errors name what is wrong, never the string itself.
 */
export function parseConnection(text: string, what = 'database URL'): { config: ClientConfig; parsed: ParsedConnection } {
  // Whatever the parse makes of it, what stands where a URL's password would (up to the last "@")
  // is remembered too: a password with raw "/", "?", "#" or spaces must not survive in any form.
  rememberSecret(/^postgres(?:ql)?:\/\/[^:@/]*:(.*)@/is.exec(text.trim())?.[1])
  let parsed: ParsedConnection
  try {
    parsed = parseConnectionString(text)
  } catch (error) {
    if (error instanceof ConnectionStringError) throw usageError(`invalid ${what}: ${error.message}`, CONNECTION_HINT)
    throw error
  }
  for (const secret of parsed.secrets) rememberSecret(secret)
  if (parsed.form === 'url' && !parsed.hosts.some((h) => h.host) && !parsed.params.some(([key]) => key === 'host')) {
    throw usageError(`invalid ${what} ${parsed.safe}: it names no host`, CONNECTION_HINT)
  }
  try {
    return { config: toClientConfig(parsed), parsed }
  } catch (error) {
    if (error instanceof ConnectionStringError) throw usageError(`invalid ${what} ${parsed.safe}: ${error.message}`, CONNECTION_HINT)
    throw error
  }
}

export function parseDatabaseUrl(url: string): ClientConfig {
  return parseConnection(url).config
}

/**
 * One pool per (server, database). Pools are small: janua runs few statements per database, and
 * a fleet run recycles connections rather than holding one per tenant.
 */
export class Connections {
  private readonly pools = new Map<string, pg.Pool>()
  private kysely?: Kysely<ControlPlane>

  constructor(
    readonly primary: ClientConfig,
    private readonly resolveServer: (name: string) => Promise<ClientConfig> = async () => primary,
  ) {}

  get primaryDatabase(): string {
    return this.primary.database ?? this.primary.user ?? 'postgres'
  }

  configFor(base: ClientConfig, database: string): ClientConfig {
    // JIT compiles the large catalog queries of verify for longer than they run (1 s against 0.1 s).
    const options = [base.options, '-c jit=off'].filter(Boolean).join(' ')
    return { ...base, database, application_name: 'janua', connectionTimeoutMillis: 15_000, options }
  }

  pool(config: ClientConfig, database: string, max = 4): pg.Pool {
    const key = `${config.host}:${config.port}:${config.user}:${database}`
    let pool = this.pools.get(key)
    if (!pool) {
      // maxUses: a connection caches catalog entries of every table it touches; recycle it.
      pool = new pg.Pool({ ...this.configFor(config, database), max, idleTimeoutMillis: 5_000, maxUses: 200 })
      pool.on('error', () => {
        /* an idle client lost its connection: the next checkout reconnects */
      })
      this.pools.set(key, pool)
    }
    return pool
  }

  primaryPool(): pg.Pool {
    return this.pool(this.primary, this.primaryDatabase, 10)
  }

  async serverConfig(server: string): Promise<ClientConfig> {
    return server === 'primary' ? this.primary : this.resolveServer(server)
  }

  async serverPool(server: string, database: string): Promise<pg.Pool> {
    return this.pool(await this.serverConfig(server), database)
  }

  /** A pool on the server's own database (from its URL): where CREATE/DROP DATABASE run. */
  async adminPool(server: string): Promise<pg.Pool> {
    const config = await this.serverConfig(server)
    return this.pool(config, server === 'primary' ? this.primaryDatabase : (config.database ?? 'postgres'))
  }

  /** A dedicated client outside the pools, for statements that must not share a session. */
  async dedicatedClient(server: string, database: string): Promise<pg.Client> {
    const client = new pg.Client(this.configFor(await this.serverConfig(server), database))
    client.on('error', () => {
      // Without a listener an 'error' event (the server closing the session) would crash the
      // process; the same failure reaches the caller as the rejection of its next query or connect.
    })
    try {
      await client.connect()
    } catch (error) {
      throw translateError(error, `connecting to ${server}/${database}`)
    }
    return client
  }

  controlPlane(): Kysely<ControlPlane> {
    this.kysely ??= new Kysely<ControlPlane>({ dialect: new PostgresDialect({ pool: this.primaryPool() }) })
    return this.kysely
  }

  /** Closes the pools of one database (needed before DROP DATABASE or CREATE DATABASE ... TEMPLATE). */
  async closeDatabase(config: ClientConfig, database: string): Promise<void> {
    const key = `${config.host}:${config.port}:${config.user}:${database}`
    const pool = this.pools.get(key)
    if (pool) {
      this.pools.delete(key)
      await endQuietly(pool)
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()]
    this.pools.clear()
    this.kysely = undefined
    await Promise.all(pools.map((p) => endQuietly(p)))
  }
}

export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient
  try {
    client = await pool.connect()
  } catch (error) {
    throw translateError(error)
  }
  let broken = false
  try {
    return await fn(client)
  } catch (error) {
    broken = true
    throw error
  } finally {
    // A client that failed mid-transaction or holds session state is not reused.
    client.release(broken)
  }
}

/**
 * How many sessions of a database's pool share a catalog read of thousands of schemas (histories,
 * catalog token, fingerprints). Each new backend pays to map the shared buffers it touches into
 * its own memory (one minor page fault per 4 kB page: 33,000 faults and 0.6 s of system time for a
 * backend that reads through 128 MB of shared buffers, measured on PostgreSQL 15 without huge
 * pages), so a session beyond the server's cores costs more than it brings: on a 2-core server,
 * 2 sessions verified 10,000 schemas in 22.4 s against 24.0 s with 3 (means of 4 alternating runs,
 * docs/design.md, session 23). The pools hold 4 connections, and verify reads other databases of
 * the server at the same time.
 */
export const CATALOG_SESSIONS = 2

/**
 * Runs fn over the items on the caller's session and on up to `sessions - 1` more of the pool at
 * once, each session taking the next item when it is done (all on the caller's session without a
 * pool): a catalog read of thousands of schemas in parts, so that the server's cores share it.
 */
export async function shareOut<T>(
  client: pg.ClientBase,
  pool: pg.Pool | undefined,
  sessions: number,
  items: T[],
  fn: (session: pg.ClientBase, item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  const work = async (session: pg.ClientBase) => {
    while (next < items.length) await fn(session, items[next++]!)
  }
  const more = pool ? Math.min(sessions, items.length) - 1 : 0
  await Promise.all([work(client), ...Array.from({ length: Math.max(0, more) }, () => withClient(pool!, work))])
}

export async function inTransaction<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  await client.query('begin')
  try {
    const result = await fn()
    await client.query('commit')
    return result
  } catch (error) {
    await rollbackQuietly(client)
    throw error
  }
}

/**
 * Ends a session or a pool whose work is finished or has failed. Ending cannot lose data, and the
 * caller reports the error that matters; a failure while closing is not one (the connection is
 * gone either way).
 */
export async function endQuietly(closable: { end(): Promise<void> }): Promise<void> {
  try {
    await closable.end()
  } catch {
    // Safe to lose: the connection is gone either way, and nothing it did depends on closing it.
  }
}

/**
 * Rolls back a transaction being given up because of an error. If even the rollback fails, the
 * connection is gone and its transaction with it: nothing is left to undo, and the caller reports
 * the error that made it give up.
 */
export async function rollbackQuietly(client: pg.ClientBase): Promise<void> {
  try {
    await client.query('rollback')
  } catch {
    // Safe to lose: a rollback fails only on a dead connection, whose transaction died with it.
  }
}
