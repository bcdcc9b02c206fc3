import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { parseIntoClientConfig } from 'pg-connection-string'
import type { ControlPlane } from './schema.js'
import { rememberSecret, redact } from './redact.js'
import { translateError, usageError } from './errors.js'

// int8 (counts, bigserial ids) as strings would leak into JSON as "12": parse to number when safe.
pg.types.setTypeParser(20, (v) => {
  const n = Number(v)
  return Number.isSafeInteger(n) ? n : v
})

export type ClientConfig = pg.ClientConfig

const KEY_VALUE_NAMES: Record<string, keyof ClientConfig> = {
  host: 'host', hostaddr: 'host', port: 'port', dbname: 'database', user: 'user', password: 'password',
  application_name: 'application_name', connect_timeout: 'connectionTimeoutMillis',
}

/** libpq's key=value form (`host=db port=5432 user=u password='p w' dbname=app`). */
function parseKeyValue(text: string): ClientConfig {
  const config: Record<string, unknown> = {}
  const pattern = /\s*([a-z_]+)\s*=\s*('((?:[^'\\]|\\.)*)'|(\S+))/gy
  let match: RegExpExecArray | null
  let end = 0
  while ((match = pattern.exec(text))) {
    end = pattern.lastIndex
    const value = match[3] !== undefined ? match[3].replace(/\\(.)/g, '$1') : match[4]!
    const key = match[1]!
    if (key === 'sslmode') config.ssl = value === 'disable' ? false : value === 'require' ? { rejectUnauthorized: false } : value !== 'prefer' && value !== 'allow'
    else if (KEY_VALUE_NAMES[key]) config[KEY_VALUE_NAMES[key]] = key === 'port' ? Number(value) : key === 'connect_timeout' ? Number(value) * 1000 : value
    else throw new Error(`unknown connection parameter "${key}"`)
  }
  if (text.slice(end).trim() !== '') throw new Error('cannot parse it as key=value pairs')
  return config as ClientConfig
}

export function parseDatabaseUrl(url: string): ClientConfig {
  const isUrl = /^postgres(ql)?:\/\//i.test(url)
  if (!isUrl && !/^\s*[a-z_]+\s*=/.test(url)) {
    throw usageError(`invalid database URL ${redact(url)}`, 'use postgres://USER@HOST:PORT/DATABASE, with :PASSWORD after USER if needed (or libpq key=value pairs)')
  }
  let config: ClientConfig
  try {
    config = isUrl ? parseIntoClientConfig(url) : parseKeyValue(url)
  } catch (error) {
    throw usageError(`invalid database URL ${redact(url)}: ${redact((error as Error).message)}`, 'use postgres://USER@HOST:PORT/DATABASE, with :PASSWORD after USER if needed (or libpq key=value pairs)')
  }
  rememberSecret(typeof config.password === 'string' ? config.password : undefined)
  return config
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
    client.on('error', () => {})
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
      await pool.end().catch(() => {})
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()]
    this.pools.clear()
    this.kysely = undefined
    await Promise.all(pools.map((p) => p.end().catch(() => {})))
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

export async function inTransaction<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  await client.query('begin')
  try {
    const result = await fn()
    await client.query('commit')
    return result
  } catch (error) {
    await client.query('rollback').catch(() => {})
    throw error
  }
}
