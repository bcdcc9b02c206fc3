import pg from 'pg'
import { sql } from 'kysely'
import { endQuietly, parseConnection, withClient } from '../db/connection.js'
import { isPgError, translateError } from '../db/errors.js'
import { redactAll } from '../db/redact.js'
import { ident, validateServerName } from '../sql/ident.js'
import type { Janua } from './context.js'
import { ensureAppRole, ensureControlPlane, requireControlPlane } from './control-plane.js'
import { ExitCode, JanuaError, NOT_FOUND, usageError } from './errors.js'
import { DATABASE_TENANT_SCHEMA, SHARED_SCHEMA, TENANT_SCHEMA_PREFIX, serverSharedDatabase, templateDatabase } from './placement.js'
import { SECRET_KEY_MISSING, sealServerPassword } from './server-secrets.js'

/**
 * Who a server is: the cluster (pg_control_system's system identifier and the port it listens on)
 * and the database janua connects to. Two names for one identity would share janua's databases
 * there, so a second name is refused. A null system identifier is unknown (a row from before
 * identities were recorded, or a role that may not read pg_control_system).
 */
export interface ClusterIdentity {
  systemIdentifier: string | null
  port: number
  database: string
  versionNum: number
}

export interface ServerInfo {
  name: string
  /** the URL rebuilt without any password */
  url: string | null
  urlEnv: string | null
  passwordStored: boolean
  cluster: ClusterIdentity | null
  reachable?: boolean
  /** the server's version: read live with --check, else as recorded when the server was added or last seen ('15.19'); null when unknown */
  version: string | null
  error?: string
  tenants: number
}

/** 150019 -> '15.19' (server_version_num since PostgreSQL 10 is major * 10000 + minor) */
export const versionFromNum = (num: number | null | undefined): string | null => (num ? `${Math.floor(num / 10000)}.${num % 10000}` : null)

export interface ServerCheck {
  version: string
  versionNum: number
  missing: string[]
  identity: ClusterIdentity
}

const IDENTITY_COLUMNS = `current_setting('port')::int as port, current_database() as database, current_setting('server_version_num')::int as version_num`

/** Reads the identity of the cluster a client is connected to. */
export async function readIdentity(client: pg.ClientBase): Promise<ClusterIdentity> {
  type Row = { system_identifier: string | null; port: number; database: string; version_num: number }
  let row: Row
  try {
    row = (await client.query<Row>(`select (select system_identifier::text from pg_control_system()) as system_identifier, ${IDENTITY_COLUMNS}`)).rows[0]!
  } catch (error) {
    // pg_control_system() may be revoked from the role: the cluster is then unknown, not an error.
    if (!(isPgError(error) && error.code === '42501')) throw error
    row = (await client.query<Row>(`select null::text as system_identifier, ${IDENTITY_COLUMNS}`)).rows[0]!
  }
  return { systemIdentifier: row.system_identifier, port: row.port, database: row.database, versionNum: row.version_num }
}

/** Checks what janua needs of a server: a reachable PostgreSQL 15+ and a role that can create databases and roles and bypass RLS. */
export async function checkServer(config: pg.ClientConfig): Promise<ServerCheck> {
  const client = new pg.Client({ ...config, connectionTimeoutMillis: 10_000 })
  client.on('error', () => {
    /* a connection lost after connect surfaces as the failing query's error */
  })
  try {
    await client.connect()
    const { rows } = await client.query<{ version: string; num: number; rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean; rolbypassrls: boolean }>(
      `select current_setting('server_version') as version, current_setting('server_version_num')::int as num, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolbypassrls
         from pg_roles r where r.rolname = current_user`,
    )
    const r = rows[0]!
    const missing: string[] = []
    if (r.num < 150000) missing.push(`PostgreSQL 15 or newer (this is ${r.version})`)
    if (!r.rolsuper) {
      if (!r.rolcreatedb) missing.push('CREATEDB (to create tenant databases)')
      if (!r.rolcreaterole) missing.push('CREATEROLE (to create the app role)')
      if (!r.rolbypassrls) missing.push('BYPASSRLS (to copy rows of tables under forced RLS)')
    }
    return { version: r.version, versionNum: r.num, missing, identity: await readIdentity(client) }
  } catch (error) {
    throw translateError(error, `connecting to ${config.host ?? 'localhost'}:${config.port ?? 5432}`)
  } finally {
    // Closing a client whose connection failed fails too; the connect error above is the one to report.
    await endQuietly(client)
  }
}

export interface Registration {
  name: string
  identity: ClusterIdentity | null
}

const sameCluster = (a: ClusterIdentity, b: ClusterIdentity) => a.systemIdentifier !== null && a.systemIdentifier === b.systemIdentifier && a.port === b.port

/** The registration that already is this identity (same cluster, same database), if any. */
export function registeredAs(identity: ClusterIdentity, registrations: Registration[]): Registration | undefined {
  return registrations.find((r) => r.identity && sameCluster(r.identity, identity) && r.identity.database === identity.database)
}

const identityOfRow = (r: {
  system_identifier: string | null
  port: number | null
  maintenance_database: string | null
  server_version_num: number | null
}): ClusterIdentity | null =>
  r.port === null || r.maintenance_database === null
    ? null
    : { systemIdentifier: r.system_identifier, port: r.port, database: r.maintenance_database, versionNum: r.server_version_num ?? 0 }

async function recordIdentity(janua: Janua, name: string, identity: ClusterIdentity): Promise<void> {
  await janua.db
    .updateTable('janua.servers')
    .set({ system_identifier: identity.systemIdentifier, port: identity.port, maintenance_database: identity.database, server_version_num: identity.versionNum })
    .where('name', '=', name)
    .execute()
}

/**
 * Every registration with its identity: the primary's read live from its connection, others from
 * janua.servers; one recorded before identities existed is read now and filled in, or, when its
 * server cannot be reached, returned as unknown with the reason.
 */
async function registrations(janua: Janua): Promise<{ known: Registration[]; unknown: { name: string; error: string }[] }> {
  const rows = await janua.db.selectFrom('janua.servers').select(['name', 'system_identifier', 'port', 'maintenance_database', 'server_version_num']).execute()
  const known: Registration[] = [{ name: 'primary', identity: await withClient(janua.conn.primaryPool(), readIdentity) }]
  const unknown: { name: string; error: string }[] = []
  for (const row of rows.filter((r) => r.name !== 'primary')) {
    const stored = identityOfRow(row)
    if (stored?.systemIdentifier) {
      known.push({ name: row.name, identity: stored })
      continue
    }
    try {
      const identity = await withClient(await janua.conn.adminPool(row.name), readIdentity)
      await recordIdentity(janua, row.name, identity)
      known.push({ name: row.name, identity })
    } catch (error) {
      // A server that cannot be reached now stays unknown, and is reported as such by the caller.
      const failure = translateError(error, `reading the cluster of server ${row.name}`)
      if (failure.exitCode !== ExitCode.unreachable && failure.code !== SECRET_KEY_MISSING) throw failure
      unknown.push({ name: row.name, error: failure.message })
    }
  }
  return { known, unknown }
}

export interface AddedServer extends ServerInfo {
  check: ServerCheck
  /** registrations whose cluster could not be read, so a duplicate of them cannot be ruled out */
  unverified: { name: string; error: string }[]
}

export async function addServer(janua: Janua, input: { name: string; url?: string; urlEnv?: string }): Promise<AddedServer> {
  const name = validateServerName(input.name)
  if (name === 'primary') throw usageError('"primary" is the control plane\'s own server', 'choose another name')
  if (!!input.url === !!input.urlEnv) throw usageError("give the server's URL or --url-env (one of them)", 'prefer --url-env NAME: the secret then stays in your environment')
  if (input.urlEnv && !/^[A-Z_][A-Z0-9_]*$/.test(input.urlEnv)) throw usageError(`invalid environment variable name "${input.urlEnv}"`, 'use e.g. --url-env EU1_DATABASE_URL')
  const rawUrl = input.url ?? process.env[input.urlEnv!]
  if (!rawUrl) throw usageError(`$${input.urlEnv} is not set`, `export ${input.urlEnv}=postgres://USER@HOST:5432/postgres (with :PASSWORD after USER)`)
  const { config, parsed } = parseConnection(rawUrl, input.urlEnv ? `URL in $${input.urlEnv}` : `URL of server "${name}"`)
  if (!config.user) throw usageError(`the URL of server "${name}" (${parsed.safe}) names no user`, 'give one: postgres://USER@HOST:PORT/DATABASE')
  // Refused before anything is contacted: an inline password is stored only encrypted.
  const sealedPassword = input.url && parsed.password !== undefined ? sealServerPassword(name, parsed.password) : null
  await ensureControlPlane(janua)
  const existing = await janua.db.selectFrom('janua.servers').select('name').where('name', '=', name).executeTakeFirst()
  if (existing) throw usageError(`server "${name}" is already registered`, `remove it first: janua server remove ${name}`)
  const check = await checkServer(config)
  if (check.missing.length) {
    throw new JanuaError(
      `server "${name}" cannot host tenants: missing ${check.missing.join('; ')}`,
      ExitCode.usage,
      'connect as a superuser or a role with CREATEDB, CREATEROLE and BYPASSRLS, on PostgreSQL 15+',
    )
  }
  const { known, unknown } = await registrations(janua)
  const first = registeredAs(check.identity, known)
  if (first) {
    throw usageError(
      `server "${name}" is already registered as "${first.name}": the same cluster (system identifier ${check.identity.systemIdentifier}, port ${check.identity.port}) and database ${check.identity.database}`,
      `use --server ${first.name}; to place tenants apart on that cluster, register another of its databases (postgres://USER@HOST:PORT/OTHER_DATABASE)`,
    )
  }
  const client = new pg.Client({ ...config, connectionTimeoutMillis: 10_000 })
  client.on('error', () => {
    /* a connection lost after connect surfaces as the failing query's error */
  })
  try {
    await client.connect()
    await ensureAppRole(client, janua.appRole)
  } catch (error) {
    throw translateError(error, `preparing server ${name}`)
  } finally {
    // Closing a client whose connection failed fails too; the error above is the one to report.
    await endQuietly(client)
  }
  const url = input.url ? parsed.safe : null
  const { identity } = check
  await janua.db
    .insertInto('janua.servers')
    .values({
      name,
      url,
      url_env: input.urlEnv ?? null,
      password: sealedPassword,
      system_identifier: identity.systemIdentifier,
      port: identity.port,
      maintenance_database: identity.database,
      server_version_num: identity.versionNum,
    })
    .execute()
  return {
    name,
    url,
    urlEnv: input.urlEnv ?? null,
    passwordStored: !!sealedPassword,
    cluster: identity,
    tenants: 0,
    reachable: true,
    version: check.version,
    check,
    unverified: unknown,
  }
}

/** A stored URL as it may be shown: rebuilt without a password (rows from before may hold one). */
function shownUrl(stored: string | null): string | null {
  if (stored === null) return null
  try {
    return parseConnection(stored).parsed.safe
  } catch (error) {
    return `(unreadable URL: ${(error as Error).message})`
  }
}

export async function listServers(janua: Janua, options: { check?: boolean } = {}): Promise<ServerInfo[]> {
  await requireControlPlane(janua)
  const rows = await janua.db
    .selectFrom('janua.servers as s')
    .leftJoin('janua.placements as p', 'p.server', 's.name')
    .leftJoin('janua.tenants as t', 't.placement_id', 'p.id')
    .select([
      's.name',
      's.url',
      's.url_env',
      's.password',
      's.system_identifier',
      's.port',
      's.maintenance_database',
      's.server_version_num',
      sql<number>`count(t.id)`.as('tenants'),
    ])
    .groupBy(['s.name', 's.url', 's.url_env', 's.password', 's.system_identifier', 's.port', 's.maintenance_database', 's.server_version_num'])
    .orderBy(sql`s.name <> 'primary'`)
    .orderBy('s.name')
    .execute()
  const primaryIdentity = await withClient(janua.conn.primaryPool(), readIdentity)
  return Promise.all(
    rows.map(async (r) => {
      const info: ServerInfo = {
        name: r.name,
        url: r.name === 'primary' ? janua.primarySafeUrl : shownUrl(r.url),
        urlEnv: r.url_env,
        passwordStored: !!r.password,
        cluster: r.name === 'primary' ? primaryIdentity : identityOfRow(r),
        version: null,
        tenants: Number(r.tenants),
      }
      info.version = versionFromNum(info.cluster?.versionNum)
      if (options.check) {
        try {
          const check = await checkServer(await janua.conn.serverConfig(r.name))
          // Shown, not recorded: a listing changes nothing (add and remove fill in a missing identity).
          Object.assign(info, { reachable: true, version: check.version, cluster: check.identity })
        } catch (error) {
          Object.assign(info, { reachable: false, error: redactAll((error as Error).message) })
        }
      }
      return info
    }),
  )
}

/** What `server remove` found, read before anything is changed. */
export interface ServerRemovalFacts {
  name: string
  /** how to reach the server in a command printed for a person: $VAR or the URL without password */
  connection: string
  tenants: string[]
  moves: { tenant: string | null; operation: string; step: string | null }[]
  leftovers: { tenant: string | null; database: string; schema: string; what: string }[]
  /** other registrations of the same cluster (any database), the primary included; null when the cluster is unknown */
  sameCluster: string[] | null
  /** janua's own databases there (shared and template), with the other registrations that have placements in them */
  januaDatabases: { database: string; kind: 'shared' | 'template'; placementsOf: string[] }[]
  /** what the server holds: null when it could not be reached (then `unreachable` says why) */
  found: { database: string; tenantData: string[] }[] | null
  unreachable?: string
}

export interface ServerRemovalPlan {
  name: string
  drop: string[]
  keep: { database: string; reason: string }[]
  notRemoved: { database: string; error: string; finish: string }[]
}

const listed = (items: string[], max = 5) => `${items.slice(0, max).join(', ')}${items.length > max ? `, ... (${items.length} in all)` : ''}`

/** Decides a removal from its facts alone: every reason to refuse, or what to drop and keep. */
export function decideServerRemoval(facts: ServerRemovalFacts): { refusals: string[]; plan: ServerRemovalPlan } {
  const refusals: string[] = []
  if (facts.tenants.length) refusals.push(`it holds tenants (${listed(facts.tenants)}): move them first with janua tenant move <slug> --to <level> --server <other>`)
  for (const m of facts.moves)
    refusals.push(
      `the unfinished move of tenant ${m.tenant ?? '?'} (operation ${m.operation}, step ${m.step ?? 'planned'}) involves it: finish it with janua tenant move ${m.tenant ?? '<slug>'} --resume or --abort`,
    )
  if (facts.leftovers.length) {
    refusals.push(
      `it holds leftovers of moves (${listed(facts.leftovers.map((l) => `${l.what} ${l.database}/${l.schema}${l.tenant ? ` of ${l.tenant}` : ''}`))}): remove them first (janua tenant inspect <slug> lists them)`,
    )
  }
  for (const d of facts.januaDatabases) {
    if (d.placementsOf.length) refusals.push(`${d.database} there also holds placements of ${d.placementsOf.join(', ')} (the same cluster)`)
  }
  for (const d of facts.found ?? []) {
    if (d.tenantData.length) refusals.push(`${d.database} there holds tenant data (${listed(d.tenantData)})`)
  }
  const plan: ServerRemovalPlan = { name: facts.name, drop: [], keep: [], notRemoved: [] }
  // The cluster stays registered under another name, whose janua databases these are too (the
  // primary keeps its shared placement in its own database, but clones tenants from the template).
  const sharedWith = (database: string) => {
    const kind = facts.januaDatabases.find((d) => d.database === database)?.kind
    const users = (facts.sameCluster ?? []).filter((other) => kind === 'template' || other !== 'primary')
    return users.length ? `the same cluster is registered as ${users.join(', ')}` : undefined
  }
  if (facts.found === null) {
    for (const { database } of facts.januaDatabases) {
      const reason = sharedWith(database)
      if (reason) plan.keep.push({ database, reason })
      else {
        plan.notRemoved.push({
          database,
          error: facts.unreachable ?? 'the server could not be reached',
          finish: `when ${facts.name} is back, if no other registration shares its cluster and ${database} holds no tenant data: psql "${facts.connection}" -c 'DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE)'`,
        })
      }
    }
  } else {
    for (const { database } of facts.found) {
      const reason = sharedWith(database)
      if (reason) plan.keep.push({ database, reason })
      else plan.drop.push(database)
    }
  }
  return { refusals, plan }
}

/** Reads every fact a removal depends on; contacts the server only when the control plane has no reason to refuse. */
async function gatherRemovalFacts(janua: Janua, cpId: string, name: string): Promise<ServerRemovalFacts> {
  const row = await janua.db.selectFrom('janua.servers').selectAll().where('name', '=', name).executeTakeFirst()
  if (!row) throw new JanuaError(`no server "${name}"`, ExitCode.usage, 'list servers with `janua server list`', NOT_FOUND)
  const januaDatabases = [serverSharedDatabase(cpId), templateDatabase(cpId)]
  const kinds = ['shared', 'template'] as const
  const tenants = await janua.db
    .selectFrom('janua.tenants as t')
    .innerJoin('janua.placements as p', 'p.id', 't.placement_id')
    .select('t.slug')
    .where('p.server', '=', name)
    .orderBy('t.slug')
    .execute()
  const moves = await janua.db
    .selectFrom('janua.operations')
    .select(['id', 'tenant_slug', 'step'])
    .where('kind', '=', 'tenant.move')
    .where('status', '=', 'running')
    .where((eb) => eb.or([eb(sql`detail #>> '{plan,from,placement,server}'`, '=', name), eb(sql`detail #>> '{plan,to,placement,server}'`, '=', name)]))
    .orderBy('id')
    .execute()
  const leftovers = await janua.db.selectFrom('janua.leftovers').select(['tenant_slug', 'database', 'schema', 'what']).where('server', '=', name).orderBy('id').execute()
  const facts: ServerRemovalFacts = {
    name,
    connection: row.url_env ? `$${row.url_env}` : (shownUrl(row.url) ?? ''),
    tenants: tenants.map((t) => t.slug),
    moves: moves.map((m) => ({ tenant: m.tenant_slug, operation: String(m.id), step: m.step })),
    leftovers: leftovers.map((l) => ({ tenant: l.tenant_slug, database: l.database, schema: l.schema, what: l.what })),
    sameCluster: null,
    januaDatabases: januaDatabases.map((database, i) => ({ database, kind: kinds[i]!, placementsOf: [] })),
    found: null,
  }
  if (facts.tenants.length || facts.moves.length || facts.leftovers.length) return facts
  let identity = identityOfRow(row)
  let found: string[] | undefined
  try {
    ;({ identity, found } = await withClient(await janua.conn.adminPool(name), async (admin) => ({
      identity: await readIdentity(admin),
      found: (await admin.query<{ datname: string }>('select datname from pg_database where datname = any($1) order by datname', [januaDatabases])).rows.map((r) => r.datname),
    })))
    if (!row.system_identifier && identity.systemIdentifier) await recordIdentity(janua, name, identity)
  } catch (error) {
    const failure = translateError(error, `connecting to server ${name}`)
    // A server janua cannot log in to (down, or its stored password's key is lost) is unregistered all the same; what stays there is reported.
    if (failure.exitCode !== ExitCode.unreachable && failure.code !== SECRET_KEY_MISSING) throw failure
    facts.unreachable = failure.message
  }
  if (identity?.systemIdentifier) {
    const others = (await registrations(janua)).known.filter((r) => r.name !== name)
    facts.sameCluster = others.filter((r) => r.identity && sameCluster(r.identity, identity!)).map((r) => r.name)
  }
  if (facts.sameCluster?.length) {
    const placements = await janua.db
      .selectFrom('janua.placements')
      .select(['server', 'database'])
      .where('server', 'in', facts.sameCluster)
      .where('database', 'in', januaDatabases)
      .execute()
    for (const d of facts.januaDatabases) d.placementsOf = [...new Set(placements.filter((p) => p.database === d.database).map((p) => p.server))]
  }
  if (found) facts.found = await Promise.all(found.map(async (database) => ({ database, tenantData: await tenantDataIn(janua, name, database) })))
  return facts
}

/** What of tenants a janua database holds: tenant schemas, and rows in tables with a tenant_id. */
async function tenantDataIn(janua: Janua, server: string, database: string): Promise<string[]> {
  const config = await janua.conn.serverConfig(server)
  try {
    return await withClient(janua.conn.pool(config, database), async (client) => {
      const found = (await client.query<{ nspname: string }>(`select nspname from pg_namespace where starts_with(nspname, $1) order by nspname`, [TENANT_SCHEMA_PREFIX])).rows.map(
        (r) => `schema ${r.nspname}`,
      )
      const { rows: tables } = await client.query<{ schema: string; table: string }>(
        `select n.nspname as schema, c.relname as table from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
          where a.attname = 'tenant_id' and not a.attisdropped and c.relkind in ('r', 'p') and n.nspname = any($1) order by 1, 2`,
        [[SHARED_SCHEMA, DATABASE_TENANT_SCHEMA]],
      )
      if (tables.length) {
        const { rows } = await client.query<{ name: string }>(
          tables.map((t, i) => `select $${i + 1}::text as name where exists (select 1 from ${ident(t.schema)}.${ident(t.table)})`).join(' union all '),
          tables.map((t) => `${t.schema}.${t.table}`),
        )
        found.push(...rows.map((r) => `rows in ${r.name}`))
      }
      return found
    })
  } finally {
    // DROP DATABASE and CREATE DATABASE ... TEMPLATE need this database without our connections.
    await janua.conn.closeDatabase(config, database)
  }
}

export async function removeServer(
  janua: Janua,
  nameInput: string,
  options: { confirm?: (plan: ServerRemovalPlan) => Promise<boolean> },
): Promise<ServerRemovalPlan & { removed: true }> {
  const name = validateServerName(nameInput)
  if (name === 'primary') throw usageError('the primary server cannot be removed', 'it holds the control plane')
  const cpId = await ensureControlPlane(janua)
  const facts = await gatherRemovalFacts(janua, cpId, name)
  const { refusals, plan } = decideServerRemoval(facts)
  if (refusals.length) {
    throw new JanuaError(`server "${name}" cannot be removed: ${refusals.join('; ')}`, ExitCode.usage, 'nothing was removed', undefined, { refusals })
  }
  if (!options.confirm) throw usageError(`removing server "${name}" needs confirmation`, 'pass --yes (janua asks only on a terminal)')
  if (!(await options.confirm(plan))) throw usageError('not confirmed; nothing was removed')
  // Unregistered first: from then on no run can place a tenant there (placements reference the
  // server), and a tenant placed since the checks makes this fail before anything is dropped.
  const config = plan.drop.length ? await janua.conn.serverConfig(name) : undefined
  await janua.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('janua.placements').where('server', '=', name).execute()
    await trx.deleteFrom('janua.servers').where('name', '=', name).execute()
  })
  const dropped: string[] = []
  if (config) {
    try {
      await withClient(janua.conn.pool(config, config.database ?? 'postgres'), async (admin) => {
        for (const database of plan.drop) {
          await janua.conn.closeDatabase(config, database)
          await admin.query(`drop database if exists ${ident(database)} with (force)`)
          dropped.push(database)
        }
      })
    } catch (error) {
      // The server is unregistered; what is left there is reported with its repair, not hidden.
      const failure = translateError(error, `dropping janua's databases on ${name}`)
      for (const database of plan.drop.filter((d) => !dropped.includes(d))) {
        plan.notRemoved.push({ database, error: failure.message, finish: `psql "${facts.connection}" -c 'DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE)'` })
      }
      plan.drop = dropped
    }
  }
  return { ...plan, removed: true }
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
