import pg from 'pg'
import { sql } from 'kysely'
import { parseDatabaseUrl, withClient } from '../db/connection.js'
import { translateError } from '../db/errors.js'
import { redact } from '../db/redact.js'
import { withAdvisoryLock } from '../db/locks.js'
import { ident, validateServerName } from '../sql/ident.js'
import { applyPending } from './apply.js'
import type { Janua } from './context.js'
import { createPlacementSchema, ensureAppRole, ensureControlPlane, requireControlPlane } from './control-plane.js'
import { ExitCode, JanuaError, usageError } from './errors.js'
import { databaseExists, restrictDatabase } from './isolation/database.js'
import { SHARED_SCHEMA, serverSharedDatabase, templateDatabase, type Placement } from './placement.js'

export interface ServerInfo {
  name: string
  /** the URL without its password */
  url: string | null
  urlEnv: string | null
  passwordStored: boolean
  reachable?: boolean
  version?: string
  error?: string
  tenants: number
}

/** A URL with its password removed: the control plane keeps the password apart and never shows it. */
function splitPassword(url: string): { url: string; password: string | null } {
  const config = parseDatabaseUrl(url)
  try {
    const u = new URL(url)
    const password = u.password ? decodeURIComponent(u.password) : null
    u.password = ''
    return { url: u.toString(), password: password ?? (typeof config.password === 'string' ? config.password : null) }
  } catch {
    return { url: redact(url), password: typeof config.password === 'string' ? config.password : null }
  }
}

export interface ServerCheck {
  version: string
  versionNum: number
  missing: string[]
}

/** Checks what janua needs of a server: a reachable PostgreSQL 15+ and a role that can create databases and roles and bypass RLS. */
export async function checkServer(config: pg.ClientConfig): Promise<ServerCheck> {
  const client = new pg.Client({ ...config, connectionTimeoutMillis: 10_000 })
  client.on('error', () => {})
  try {
    await client.connect()
    const { rows } = await client.query<{ version: string; num: number; rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean; rolbypassrls: boolean }>(
      `select current_setting('server_version') as version, current_setting('server_version_num')::int as num, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolbypassrls
         from pg_roles r where r.rolname = current_user`)
    const r = rows[0]!
    const missing: string[] = []
    if (r.num < 150000) missing.push(`PostgreSQL 15 or newer (this is ${r.version})`)
    if (!r.rolsuper) {
      if (!r.rolcreatedb) missing.push('CREATEDB (to create tenant databases)')
      if (!r.rolcreaterole) missing.push('CREATEROLE (to create the app role)')
      if (!r.rolbypassrls) missing.push('BYPASSRLS (to copy rows of tables under forced RLS)')
    }
    return { version: r.version, versionNum: r.num, missing }
  } catch (error) {
    throw translateError(error, `connecting to ${redact(String(config.host))}:${config.port ?? 5432}`)
  } finally {
    await client.end().catch(() => {})
  }
}

export async function addServer(janua: Janua, input: { name: string; url?: string; urlEnv?: string }): Promise<ServerInfo & { check: ServerCheck }> {
  const name = validateServerName(input.name)
  if (name === 'primary') throw usageError('"primary" is the control plane\'s own server', 'choose another name')
  if (!!input.url === !!input.urlEnv) throw usageError('give the server\'s URL or --url-env (one of them)', 'prefer --url-env NAME: the secret then stays in your environment')
  if (input.urlEnv && !/^[A-Z_][A-Z0-9_]*$/.test(input.urlEnv)) throw usageError(`invalid environment variable name "${input.urlEnv}"`, 'use e.g. --url-env EU1_DATABASE_URL')
  const rawUrl = input.url ?? process.env[input.urlEnv!]
  if (!rawUrl) throw usageError(`$${input.urlEnv} is not set`, `export ${input.urlEnv}=postgres://USER@HOST:5432/postgres (with :PASSWORD after USER)`)
  const config = parseDatabaseUrl(rawUrl)
  await ensureControlPlane(janua)
  const existing = await janua.db.selectFrom('janua.servers').select('name').where('name', '=', name).executeTakeFirst()
  if (existing) throw usageError(`server "${name}" is already registered`, `remove it first: janua server remove ${name}`)
  const check = await checkServer(config)
  if (check.missing.length) {
    throw new JanuaError(`server "${name}" cannot host tenants: missing ${check.missing.join('; ')}`, ExitCode.usage, 'connect as a superuser or a role with CREATEDB, CREATEROLE and BYPASSRLS, on PostgreSQL 15+')
  }
  const client = new pg.Client({ ...config, connectionTimeoutMillis: 10_000 })
  client.on('error', () => {})
  try {
    await client.connect()
    await ensureAppRole(client, janua.appRole)
  } catch (error) {
    throw translateError(error, `preparing server ${name}`)
  } finally {
    await client.end().catch(() => {})
  }
  const stored = input.url ? splitPassword(input.url) : { url: null, password: null }
  await janua.db.insertInto('janua.servers').values({ name, url: stored.url, url_env: input.urlEnv ?? null, password: stored.password }).execute()
  return { name, url: stored.url, urlEnv: input.urlEnv ?? null, passwordStored: !!stored.password, tenants: 0, reachable: true, version: check.version, check }
}

export async function listServers(janua: Janua, options: { check?: boolean } = {}): Promise<ServerInfo[]> {
  await requireControlPlane(janua)
  const rows = await janua.db
    .selectFrom('janua.servers as s')
    .leftJoin('janua.placements as p', 'p.server', 's.name')
    .leftJoin('janua.tenants as t', 't.placement_id', 'p.id')
    .select(['s.name', 's.url', 's.url_env', 's.password', sql<number>`count(t.id)`.as('tenants')])
    .groupBy(['s.name', 's.url', 's.url_env', 's.password'])
    .orderBy(sql`s.name <> 'primary'`)
    .orderBy('s.name')
    .execute()
  return Promise.all(rows.map(async (r) => {
    const info: ServerInfo = {
      name: r.name,
      url: r.name === 'primary' ? redact(janua.primaryUrl) : r.url,
      urlEnv: r.url_env,
      passwordStored: !!r.password,
      tenants: Number(r.tenants),
    }
    if (options.check) {
      try {
        const check = await checkServer(await janua.conn.serverConfig(r.name))
        Object.assign(info, { reachable: true, version: check.version })
      } catch (error) {
        Object.assign(info, { reachable: false, error: (error as Error).message })
      }
    }
    return info
  }))
}

export async function removeServer(janua: Janua, nameInput: string): Promise<{ name: string; removed: true }> {
  const name = validateServerName(nameInput)
  if (name === 'primary') throw usageError('the primary server cannot be removed', 'it holds the control plane')
  await ensureControlPlane(janua)
  const row = await janua.db.selectFrom('janua.servers').select('name').where('name', '=', name).executeTakeFirst()
  if (!row) throw usageError(`no server "${name}"`, 'list servers with `janua server list`')
  const placed = await janua.db
    .selectFrom('janua.tenants as t').innerJoin('janua.placements as p', 'p.id', 't.placement_id')
    .select(['t.slug']).where('p.server', '=', name).limit(5).execute()
  if (placed.length) {
    throw usageError(`server "${name}" still holds tenants (${placed.map((p) => p.slug).join(', ')}${placed.length === 5 ? ', ...' : ''})`,
      `move them first: janua tenant move <slug> --to <level> --server <other>`)
  }
  // janua's own databases there (template and shared) go with it; they hold no tenant.
  const cpId = await ensureControlPlane(janua)
  try {
    await withClient(await janua.conn.adminPool(name), async (c) => {
      for (const db of [templateDatabase(cpId), serverSharedDatabase(cpId)]) await c.query(`drop database if exists ${ident(db)} with (force)`)
    })
  } catch {
    /* an unreachable server is removed from the control plane all the same */
  }
  await janua.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('janua.placements').where('server', '=', name).execute()
    await trx.deleteFrom('janua.servers').where('name', '=', name).execute()
  })
  return { name, removed: true }
}

/**
 * The shared database of a non-primary server (janua_<cp>__shared): its shared placement and the
 * home of its schema tenants, created and brought to the newest version on first use.
 */
export async function ensureServerSharedDatabase(janua: Janua, cpId: string, server: string): Promise<Placement> {
  const database = serverSharedDatabase(cpId)
  const placement: Placement = { server, database, schema: SHARED_SCHEMA }
  const known = await janua.db.selectFrom('janua.placements').select('id').where('server', '=', server).where('database', '=', database).where('schema', '=', SHARED_SCHEMA).executeTakeFirst()
  if (known) return placement
  const lock = await janua.conn.dedicatedClient('primary', janua.conn.primaryDatabase)
  try {
    await withAdvisoryLock(lock, `janua:server-shared:${server}`, { what: `the shared database of ${server}` }, async () => {
      await withClient(await janua.conn.adminPool(server), async (admin) => {
        await ensureAppRole(admin, janua.appRole)
        if (!(await databaseExists(admin, database))) {
          await admin.query(`create database ${ident(database)}`)
          await restrictDatabase(admin, database, janua.appRole)
        }
      })
      const result = await withClient(await janua.conn.serverPool(server, database), async (client) => {
        await client.query('revoke create on schema public from public')
        await createPlacementSchema(client, SHARED_SCHEMA, janua.appRole)
        return applyPending(client, SHARED_SCHEMA, janua.templates, { where: `shared placement of ${server}` })
      })
      await janua.db.insertInto('janua.placements').values({ server, database, schema: SHARED_SCHEMA, kind: 'shared', version: result.version })
        .onConflict((oc) => oc.columns(['server', 'database', 'schema']).doNothing()).execute()
    })
  } finally {
    await lock.end().catch(() => {})
  }
  return placement
}

/** Placement policy without --server: the registered server with the fewest tenants (ties: primary, then by name). */
export async function pickServer(janua: Janua): Promise<{ server: string; policy: string }> {
  const servers = await janua.db
    .selectFrom('janua.servers as s')
    .leftJoin('janua.placements as p', 'p.server', 's.name')
    .leftJoin('janua.tenants as t', 't.placement_id', 'p.id')
    .select(['s.name', sql<number>`count(t.id)`.as('tenants')])
    .groupBy('s.name')
    .execute()
  servers.sort((a, b) => Number(a.tenants) - Number(b.tenants) || (a.name === 'primary' ? -1 : b.name === 'primary' ? 1 : a.name.localeCompare(b.name)))
  const chosen = servers[0]?.name ?? 'primary'
  return { server: chosen, policy: servers.length > 1 ? `fewest tenants: ${servers.map((s) => `${s.name} ${s.tenants}`).join(', ')}` : 'only server' }
}
