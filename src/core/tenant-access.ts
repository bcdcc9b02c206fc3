import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto'
import { closeSync, fchmodSync, openSync, writeSync } from 'node:fs'
import type pg from 'pg'
import { endQuietly } from '../db/connection.js'
import { isMissingDatabase } from '../db/errors.js'
import type { Finding } from '../catalog/findings.js'
import { rememberSecret } from '../db/redact.js'
import { ident } from '../sql/ident.js'
import { EXTENSIONS_SCHEMA } from '../sql/names.js'
import type { Janua } from './context.js'
import { ensureControlPlane, knownControlPlane, requireControlPlane } from './control-plane.js'
import { ExitCode, JanuaError, usageError } from './errors.js'
import { driverFor, type TenantRef } from './isolation/index.js'
import { databaseExists, schemaExists, withServerAdmin } from './isolation/common.js'
import type { Placement } from './placement.js'
import { getTenant, withTenantLock } from './tenants.js'

/**
 * Per-tenant login roles (docs/design.md, "Tenant access"). Per server and control plane:
 *   janua_<cp>_tenants        NOLOGIN group: the templates' table grants (copied from the app role), no USAGE, no CONNECT
 *   janua_<cp>_t_<slug>       NOLOGIN, member of the group: CONNECT on the tenant's database, USAGE on its schema
 *   janua_<cp>_t_<slug>_a|_b  LOGIN, members of the tenant role, alternating at each rotation
 * The login roles default search_path to the tenant's schema and app.current_tenant to its id.
 */
export const groupRole = (cpId: string) => `janua_${cpId}_tenants`
export const tenantRole = (cpId: string, slug: string) => `janua_${cpId}_t_${slug}`
export const loginRole = (cpId: string, slug: string, which: 'a' | 'b') => `${tenantRole(cpId, slug)}_${which}`
const loginRoles = (cpId: string, slug: string) => [loginRole(cpId, slug, 'a'), loginRole(cpId, slug, 'b')]

/** Pure: the SCRAM-SHA-256 verifier of a password (RFC 5802/7677, as PostgreSQL stores it): the password itself never reaches the server. */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256')
  const clientKey = createHmac('sha256', salted).update('Client Key').digest()
  const storedKey = createHash('sha256').update(clientKey).digest()
  const serverKey = createHmac('sha256', salted).update('Server Key').digest()
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`
}

/** Pure: a connection string for a login role at a placement (a socket directory goes into ?host=). */
export function connectionString(user: string, password: string, host: string | undefined, port: number | undefined, database: string): string {
  const h = host ?? 'localhost'
  const base = `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@`
  if (h.startsWith('/')) return `${base}/${encodeURIComponent(database)}?host=${encodeURIComponent(h)}&port=${port ?? 5432}`
  return `${base}${h.includes(':') ? `[${h}]` : h}:${port ?? 5432}/${encodeURIComponent(database)}`
}

/** Pure: a duration as milliseconds: plain ms, or 30s, 2m, 1h, 1d. */
export function parseGrace(text: string | undefined, fallbackMs = 3_600_000): number {
  if (text === undefined) return fallbackMs
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$/i.exec(text)
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 }
  const ms = m ? Math.round(Number(m[1]) * units[(m[2] ?? 'ms').toLowerCase()]!) : NaN
  if (!Number.isSafeInteger(ms) || ms > 366 * 86_400_000)
    throw usageError(
      `invalid --grace ${JSON.stringify(text)}: not a duration`,
      'pass milliseconds or a duration up to a year: --grace 30s, 2m, 1h, 7d; 0 ends the old password at once',
    )
  return ms
}

async function roleExists(client: pg.ClientBase, role: string): Promise<boolean> {
  return ((await client.query('select 1 from pg_roles where rolname = $1', [role])).rowCount ?? 0) > 0
}

async function createRoleIfMissing(client: pg.ClientBase, role: string, options: string): Promise<void> {
  if (await roleExists(client, role)) return
  try {
    await client.query(`create role ${ident(role)} ${options}`)
  } catch (error) {
    // 42710: a concurrent run created it first; 23505 the same race seen in the catalog's index.
    const code = (error as { code?: string }).code
    if (code !== '42710' && code !== '23505') throw error
  }
}

/**
 * The table privileges the app role holds in a placement schema, copied to the tenants' group
 * role where it lacks them. Nothing happens on a server without the group (no tenant role there).
 * Run when a tenant role is provisioned and after every template migration of a placement.
 */
export async function syncTenantTableGrants(client: pg.ClientBase, schema: string, appRole: string, cpId: string | undefined): Promise<void> {
  if (!cpId) return
  const { rows } = await client.query<{ relname: string; kind: string; privs: string }>(
    `with app as (select oid from pg_roles where rolname = $1), grp as (select oid from pg_roles where rolname = $2)
     select c.relname, case when c.relkind = 'S' then 'sequence' else 'table' end as kind, string_agg(a.privilege_type, ', ') as privs
       from pg_class c join pg_namespace n on n.oid = c.relnamespace cross join lateral aclexplode(c.relacl) a, app, grp
      where n.nspname = $3 and a.grantee = app.oid
        and not exists (select 1 from aclexplode(c.relacl) b where b.grantee = grp.oid and b.privilege_type = a.privilege_type)
      group by c.relname, c.relkind`,
    [appRole, groupRole(cpId), schema],
  )
  for (const r of rows) await client.query(`grant ${r.privs} on ${r.kind} ${ident(schema)}.${ident(r.relname)} to ${ident(groupRole(cpId))}`)
}

/** The tenant role exists on the placement's server and reaches the placement (CONNECT, USAGE, the table grants). Idempotent. */
async function grantPlacement(janua: Janua, cpId: string, slug: string, placement: Placement): Promise<void> {
  const role = tenantRole(cpId, slug)
  await withServerAdmin(janua, placement.server, async (admin) => {
    await createRoleIfMissing(admin, groupRole(cpId), 'nologin nosuperuser nobypassrls nocreatedb nocreaterole')
    await createRoleIfMissing(admin, role, `nologin nosuperuser nobypassrls nocreatedb nocreaterole in role ${ident(groupRole(cpId))}`)
    await admin.query(`grant connect on database ${ident(placement.database)} to ${ident(role)}`)
  })
  await inPlacementDatabase(janua, placement, async (c) => {
    await c.query(`grant usage on schema ${ident(placement.schema)} to ${ident(role)}`)
    if (await schemaExists(c, EXTENSIONS_SCHEMA)) await c.query(`grant usage on schema ${EXTENSIONS_SCHEMA} to ${ident(role)}`)
    await syncTenantTableGrants(c, placement.schema, janua.appRole, cpId)
  })
}

/** A dedicated session in the placement's database (no pool keeps a tenant database open: it can be dropped after). */
async function inPlacementDatabase<T>(janua: Janua, placement: Placement, fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  const client = await janua.conn.dedicatedClient(placement.server, placement.database)
  try {
    return await fn(client)
  } finally {
    // Ending a session cannot lose data; its own failure says nothing about fn's work.
    await endQuietly(client)
  }
}

/** Sets the login roles' defaults to the placement: search_path = its schema (then extensions), app.current_tenant = its id. */
async function setDefaults(admin: pg.ClientBase, role: string, tenantId: string, placement: Placement): Promise<void> {
  await admin.query(`alter role ${ident(role)} set search_path = ${ident(placement.schema)}, ${EXTENSIONS_SCHEMA}`)
  await admin.query(`alter role ${ident(role)} set app.current_tenant = '${tenantId.replace(/[^0-9a-f-]/gi, '')}'`)
}

/** The tenant role no longer reaches a placement it left (kept sources included): CONNECT and USAGE revoked where they still exist. */
async function revokePlacement(janua: Janua, cpId: string, slug: string, placement: Placement): Promise<void> {
  const role = tenantRole(cpId, slug)
  await withServerAdmin(janua, placement.server, async (admin) => {
    if (!(await roleExists(admin, role))) return
    if (await databaseExists(admin, placement.database)) await admin.query(`revoke connect on database ${ident(placement.database)} from ${ident(role)}`)
  })
  try {
    await inPlacementDatabase(janua, placement, async (c) => {
      if (!(await roleExists(c, role))) return
      if (await schemaExists(c, placement.schema)) await c.query(`revoke usage on schema ${ident(placement.schema)} from ${ident(role)}`)
    })
  } catch (error) {
    // The placement's database is gone: nothing in it can be reached.
    if (!isMissingDatabase(error)) throw error
  }
}

/** Drops the tenant's roles on a server: their privileges in the placement's database and on shared objects first. */
async function dropRoles(janua: Janua, cpId: string, slug: string, placement: Placement): Promise<void> {
  const roles = [...loginRoles(cpId, slug), tenantRole(cpId, slug)]
  const present = await withServerAdmin(janua, placement.server, async (admin) =>
    (await admin.query<{ rolname: string }>('select rolname from pg_roles where rolname = any($1)', [roles])).rows.map((r) => r.rolname),
  )
  if (!present.length) return
  const list = present.map(ident).join(', ')
  const exists = await withServerAdmin(janua, placement.server, (admin) => databaseExists(admin, placement.database))
  if (exists) await inPlacementDatabase(janua, placement, (c) => c.query(`drop owned by ${list}`))
  await withServerAdmin(janua, placement.server, async (admin) => {
    await admin.query(`drop owned by ${list}`)
    for (const role of present) await admin.query(`drop role if exists ${ident(role)}`)
  })
}

/** `tenant drop`: the tenant's roles go with it (the credentials row goes with the tenant's row). */
export async function dropTenantAccess(janua: Janua, tenant: TenantRef, placement: Placement): Promise<void> {
  const cpId = knownControlPlane(janua)
  if (!cpId) return
  await dropRoles(janua, cpId, tenant.slug, placement)
}

interface CredentialRow {
  server: string
  current: 'a' | 'b'
}

async function readCredentials(janua: Janua, tenantId: string): Promise<CredentialRow | undefined> {
  return (await janua.conn.primaryPool().query<CredentialRow>('select server, current from janua.tenant_credentials where tenant_id = $1', [tenantId])).rows[0]
}

/**
 * A move's hook, after the switch (idempotent, so a resumed move runs it again): a tenant with a
 * role keeps it at its new placement and loses the old one. To another server the roles are made
 * there (with the same password verifiers when janua may read them) and dropped on the old one; to
 * a shared placement (no tenant roles there) they are dropped.
 */
export async function followTenantAccess(janua: Janua, tenant: TenantRef, from: Placement, to: { placement: Placement; sharesPlacement: boolean }): Promise<void> {
  const cpId = knownControlPlane(janua)
  if (!cpId) return
  const cred = await readCredentials(janua, tenant.id)
  if (!cred) return
  if (to.sharesPlacement) {
    await revokePlacement(janua, cpId, tenant.slug, from)
    await dropRoles(janua, cpId, tenant.slug, from)
    await janua.conn.primaryPool().query('delete from janua.tenant_credentials where tenant_id = $1', [tenant.id])
    return
  }
  let verifiers: { rolname: string; rolpassword: string | null; rolvaliduntil: string | null }[] = []
  // Two server names of one cluster share its roles: that is a move within the cluster.
  const otherCluster = to.placement.server !== cred.server && !(await sameCluster(janua, cred.server, to.placement.server))
  if (otherCluster) {
    verifiers = await withServerAdmin(janua, cred.server, async (admin) => {
      try {
        return (await admin.query('select rolname, rolpassword, rolvaliduntil::text from pg_authid where rolname = any($1)', [loginRoles(cpId, tenant.slug)])).rows
      } catch {
        // Not a superuser: pg_authid is closed; the roles are made without a password and `tenant credentials --rotate` sets one.
        return []
      }
    })
  }
  await grantPlacement(janua, cpId, tenant.slug, to.placement)
  await withServerAdmin(janua, to.placement.server, async (admin) => {
    for (const which of ['a', 'b'] as const) {
      const role = loginRole(cpId, tenant.slug, which)
      const copied = verifiers.find((v) => v.rolname === role)
      if (otherCluster && copied) {
        await createRoleIfMissing(admin, role, `login nosuperuser nobypassrls nocreatedb nocreaterole inherit in role ${ident(tenantRole(cpId, tenant.slug))}`)
        if (copied.rolpassword) await admin.query(`alter role ${ident(role)} password ${literal(copied.rolpassword)}`)
        if (copied.rolvaliduntil) await admin.query(`alter role ${ident(role)} valid until ${literal(copied.rolvaliduntil)}`)
      }
      if (await roleExists(admin, role)) await setDefaults(admin, role, tenant.id, to.placement)
    }
  })
  if (otherCluster) await dropRoles(janua, cpId, tenant.slug, from)
  else await revokePlacement(janua, cpId, tenant.slug, from)
  await janua.conn.primaryPool().query('update janua.tenant_credentials set server = $2 where tenant_id = $1', [tenant.id, to.placement.server])
}

/** Whether two registered servers are one cluster (same system identifier and port, as `server add` recorded them). */
async function sameCluster(janua: Janua, a: string, b: string): Promise<boolean> {
  const { rows } = await janua.conn
    .primaryPool()
    .query<{ n: number }>('select count(distinct (system_identifier, port))::int as n from janua.servers where name in ($1, $2) and system_identifier is not null', [a, b])
  const known = await janua.conn.primaryPool().query('select 1 from janua.servers where name in ($1, $2) and system_identifier is not null', [a, b])
  return known.rowCount === 2 && rows[0]!.n === 1
}

/** A SQL literal for values janua produced itself (a verifier, a timestamp): quotes doubled. */
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`

export interface Credentials {
  slug: string
  tenantId: string
  role: string
  server: string
  host: string | null
  port: number | null
  database: string
  schema: string
  /** shown once (null with --output-file); never stored by janua */
  password: string | null
  connectionString: string | null
  /** --output-file: where the connection string was written (mode 0600) */
  outputFile: string | null
  rotated: boolean
  /** the previous login role, valid until this time (rotation) */
  previous: { role: string; validUntil: string } | null
}

/**
 * `janua tenant credentials <slug> [--rotate] [--grace]`: the tenant's login role gets a new random
 * password (sent as a SCRAM verifier: the statement holds no password); with --rotate the other
 * login role takes it and the old one stays valid for the grace.
 */
export async function tenantCredentials(janua: Janua, slug: string, options: { rotate?: boolean; graceMs?: number; outputFile?: string } = {}): Promise<Credentials> {
  const row = await getTenant(janua, slug)
  await requireControlPlane(janua)
  const cpId = await ensureControlPlane(janua)
  if (driverFor(row.isolation).sharesPlacement)
    throw usageError(
      `tenant "${slug}" is shared: its rows sit beside other tenants' and only Row-Level Security separates them, which a login role of its own cannot strengthen`,
      `connect as the app role and set app.current_tenant, or move it to its own placement: janua tenant migrate-isolation ${slug} --to schema`,
    )
  if (row.status !== 'active') throw usageError(`tenant "${slug}" is ${row.status}`, 'run it again once the tenant is active')
  const write = options.outputFile === undefined ? undefined : openSecretFile(options.outputFile)
  return withTenantLock(janua, slug, async () => {
    const placement: Placement = { server: row.server, database: row.database, schema: row.schema }
    const cred = await readCredentials(janua, row.id)
    if (cred && !options.rotate) throw usageError(`tenant "${slug}" already has credentials`, `pass --rotate for a new password (the old one stays valid for --grace)`)
    const next: 'a' | 'b' = cred?.current === 'a' ? 'b' : 'a'
    const role = loginRole(cpId, slug, next)
    const password = randomBytes(24).toString('base64url')
    await grantPlacement(janua, cpId, slug, placement)
    const previous = await withServerAdmin(janua, placement.server, async (admin) => {
      await createRoleIfMissing(admin, role, `login nosuperuser nobypassrls nocreatedb nocreaterole inherit in role ${ident(tenantRole(cpId, slug))}`)
      await admin.query(`alter role ${ident(role)} with login password ${literal(scramVerifier(password))} valid until 'infinity'`)
      await setDefaults(admin, role, row.id, placement)
      if (!cred) return null
      const old = loginRole(cpId, slug, cred.current)
      const { rows } = await admin.query<{ until: string }>(`select (now() + $1 * interval '1 millisecond')::text as until`, [options.graceMs ?? 3_600_000])
      if (await roleExists(admin, old)) await admin.query(`alter role ${ident(old)} valid until ${literal(rows[0]!.until)}`)
      return { role: old, validUntil: new Date(rows[0]!.until).toISOString() }
    })
    await janua.conn
      .primaryPool()
      .query(
        `insert into janua.tenant_credentials (tenant_id, server, current) values ($1, $2, $3) on conflict (tenant_id) do update set server = excluded.server, current = excluded.current, rotated_at = now()`,
        [row.id, placement.server, next],
      )
    const config = await janua.conn.serverConfig(placement.server)
    const host = typeof config.host === 'string' ? config.host : null
    const port = config.port ?? 5432
    await janua.conn.primaryPool().query('update janua.servers set host = $2 where name = $1 and host is null', [placement.server, host])
    const url = connectionString(role, password, host ?? undefined, port, placement.database)
    if (write) {
      rememberSecret(password)
      write(url)
    }
    return {
      slug,
      tenantId: row.id,
      role,
      server: placement.server,
      host,
      port,
      database: placement.database,
      schema: placement.schema,
      password: write ? null : password,
      connectionString: write ? null : url,
      outputFile: write ? options.outputFile! : null,
      rotated: !!cred,
      previous,
    }
  })
}

/** Pure: the findings of one tenant role's reach (what it may connect to or use beyond its placement). */
export function judgeTenantRoleReach(role: string, own: Placement, facts: { connect: string[]; usage: { database: string; schema: string }[]; attributes: string[] }): Finding[] {
  const findings: Finding[] = []
  const add = (object: string, message: string) => findings.push({ code: 'lint/tenant-role-reach', change: 'unexpected', object, actual: message, message: `${role}: ${message}` })
  for (const database of facts.connect.filter((d) => d !== own.database)) add(`database ${database}`, `may connect to ${database}, outside its placement ${own.database}`)
  for (const u of facts.usage.filter((u) => !(u.database === own.database && u.schema === own.schema)))
    add(`schema ${u.database}.${u.schema}`, `may use schema ${u.schema} in ${u.database}, outside its placement ${own.database}.${own.schema}`)
  for (const a of facts.attributes) add(`role ${role}`, `has ${a}`)
  return findings
}

/**
 * `db verify`'s facts about tenant roles: for each tenant with credentials, which janua databases
 * of the control plane its roles may connect to, which janua schemas of its database they may use,
 * and attributes no tenant role may have. Reads only.
 */
export async function tenantRoleFindings(janua: Janua, cpId: string, slugs: Set<string>): Promise<{ slug: string; placement: Placement; findings: Finding[] }[]> {
  let tenants: { id: string; slug: string; placement: Placement }[]
  try {
    const { rows } = await janua.conn
      .primaryPool()
      .query<{ id: string; slug: string; server: string; database: string; schema: string }>(
        `select t.id, t.slug, p.server, p.database, p.schema from janua.tenant_credentials c join janua.tenants t on t.id = c.tenant_id join janua.placements p on p.id = t.placement_id where t.slug = any($1::text[]) order by t.slug`,
        [[...slugs]],
      )
    tenants = rows.map((r) => ({ id: r.id, slug: r.slug, placement: { server: r.server, database: r.database, schema: r.schema } }))
  } catch (error) {
    // 42P01: a control plane without the table has no tenant role.
    if ((error as { code?: string }).code === '42P01') return []
    throw error
  }
  const out: { slug: string; placement: Placement; findings: Finding[] }[] = []
  for (const t of tenants) {
    const roles = [tenantRole(cpId, t.slug), ...loginRoles(cpId, t.slug)]
    const findings: Finding[] = []
    await withServerAdmin(janua, t.placement.server, async (admin) => {
      const { rows: present } = await admin.query<{ rolname: string; attrs: string[] }>(
        `select rolname, array_remove(array[case when rolsuper then 'SUPERUSER' end, case when rolbypassrls then 'BYPASSRLS' end, case when rolcreatedb then 'CREATEDB' end, case when rolcreaterole then 'CREATEROLE' end], null) as attrs
           from pg_roles where rolname = any($1)`,
        [roles],
      )
      for (const r of present) {
        const { rows: dbs } = await admin.query<{ datname: string }>(
          `select datname from pg_database where (datname like $2 or datname = $3) and has_database_privilege($1, oid, 'CONNECT')`,
          [r.rolname, `janua\\_${cpId}\\_%`, janua.conn.primaryDatabase],
        )
        let usage: { database: string; schema: string }[] = []
        try {
          usage = await inPlacementDatabase(janua, t.placement, async (c) =>
            (
              await c.query<{ nspname: string }>(
                `select nspname from pg_namespace where (nspname like 'tenant%' or nspname in ('janua', 'janua_shared')) and has_schema_privilege($1, oid, 'USAGE')`,
                [r.rolname],
              )
            ).rows.map((n) => ({ database: t.placement.database, schema: n.nspname })),
          )
        } catch (error) {
          // A missing database is db verify's own finding (fleet/placement-missing).
          if (!isMissingDatabase(error)) throw error
        }
        // The primary database is open to PUBLIC on most servers; only its janua schemas count there (checked for schema tenants above).
        const connect = dbs.map((d) => d.datname).filter((d) => d !== janua.conn.primaryDatabase)
        findings.push(...judgeTenantRoleReach(r.rolname, t.placement, { connect, usage, attributes: r.attrs }))
      }
    })
    // A login role inherits its tenant role's reach: each object is reported once, for the first role that reaches it.
    const unique = findings.filter((f, i) => findings.findIndex((g) => g.object === f.object) === i)
    if (unique.length) out.push({ slug: t.slug, placement: t.placement, findings: unique })
  }
  return out
}

/**
 * --output-file: opened (created, mode 0600) before anything changes, so a bad path is exit 2 with
 * nothing done; returns the writer of the connection string.
 */
export function openSecretFile(file: string): (text: string) => string {
  let fd: number
  try {
    fd = openSync(file, 'w', 0o600)
    fchmodSync(fd, 0o600)
  } catch (error) {
    throw new JanuaError(`cannot write ${file}: ${(error as Error).message}`, ExitCode.usage, 'pass --output-file a path in a directory you can write to')
  }
  return (text: string) => {
    try {
      writeSync(fd, `${text}\n`)
    } finally {
      closeSync(fd)
    }
    return file
  }
}
