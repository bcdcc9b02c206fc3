import { sql } from 'kysely'
import type pg from 'pg'
import { withClient } from '../db/connection.js'
import { translateError } from '../db/errors.js'
import { ident } from '../sql/ident.js'
import type { Janua } from './context.js'
import { ExitCode, JanuaError, NOT_FOUND, usageError } from './errors.js'
import { SHARED_SCHEMA, serverSharedDatabase, templateDatabase } from './placement.js'

export interface DestroyReport {
  ok: boolean
  controlPlane: string
  database: string
  schemas: string[]
  databases: { server: string; database: string }[]
  roles: { server: string; role: string }[]
  /** roles left because another control plane (another database's grants) still uses them */
  keptRoles: { server: string; role: string; reason: string }[]
}

/** What stops a destroy: tenants, unfinished operations, recorded leftovers (tenant data janua must not forget). Pure. */
export function destroyRefusal(facts: { tenants: string[]; running: number; leftovers: number }): JanuaError | undefined {
  if (facts.tenants.length)
    return usageError(
      `the control plane still has ${facts.tenants.length} tenant(s): ${facts.tenants.slice(0, 5).join(', ')}${facts.tenants.length > 5 ? ' ...' : ''}`,
      'drop them first (janua tenant drop <slug> --yes); db destroy removes only what no tenant uses',
    )
  if (facts.running) return new JanuaError(`${facts.running} operation(s) are still running`, ExitCode.locked, 'wait for them to finish (janua db status lists them)')
  if (facts.leftovers) return usageError(`${facts.leftovers} leftover(s) of moves are recorded`, 'remove them first: janua tenant cleanup <slug>')
  return undefined
}

/**
 * `janua db destroy`: removes the control plane (the janua and janua_shared schemas), the
 * template and shared databases janua made on each server, and the app role where no other
 * control plane uses it. Refused while a tenant exists. The schemas go in one transaction that
 * locks the tenants table first (a concurrent create waits, then fails); the databases after.
 */
export async function destroyControlPlane(janua: Janua): Promise<DestroyReport> {
  const db = janua.db
  const { rows: present } = await sql<{ t: string | null }>`select to_regclass('janua.meta')::text as t`.execute(db)
  if (!present[0]?.t) throw new JanuaError(`no control plane in database ${janua.conn.primaryDatabase}`, ExitCode.usage, 'nothing to destroy', NOT_FOUND)
  const { cpId, servers } = await db.transaction().execute(async (trx) => {
    await sql`lock table janua.tenants in exclusive mode`.execute(trx)
    const id = (await trx.selectFrom('janua.meta').select('value').where('key', '=', 'id').executeTakeFirstOrThrow()).value
    const tenants = (await trx.selectFrom('janua.tenants').select('slug').orderBy('slug').execute()).map((t) => t.slug)
    const running = (await trx.selectFrom('janua.operations').select('id').where('status', '=', 'running').execute()).length
    const leftovers = (await trx.selectFrom('janua.leftovers').select('id').execute()).length
    const refusal = destroyRefusal({ tenants, running, leftovers })
    if (refusal) throw refusal
    const names = (await trx.selectFrom('janua.servers').select('name').orderBy('name').execute()).map((s) => s.name)
    // The primary first: its role check sees this control plane's own grants as its own.
    return { cpId: id, servers: ['primary', ...names.filter((n) => n !== 'primary')] }
  })
  const report: DestroyReport = { ok: true, controlPlane: cpId, database: janua.conn.primaryDatabase, schemas: [], databases: [], roles: [], keptRoles: [] }
  const ours = [templateDatabase(cpId), serverSharedDatabase(cpId)]
  // The databases first, while the server list is known; then the schemas (the control plane last).
  for (const server of servers) {
    const pool = await janua.conn.adminPool(server)
    await withClient(pool, async (c) => {
      const { rows } = await c.query<{ datname: string }>('select datname from pg_database where datname = any($1) order by datname', [ours])
      for (const { datname } of rows) {
        await c.query(`drop database if exists ${ident(datname)} with (force)`)
        report.databases.push({ server, database: datname })
      }
    })
  }
  await withClient(janua.conn.primaryPool(), async (c) => {
    await c.query('begin')
    try {
      for (const schema of [SHARED_SCHEMA, 'janua']) {
        const { rowCount } = await c.query('select 1 from pg_namespace where nspname = $1', [schema])
        if (rowCount) {
          await c.query(`drop schema ${ident(schema)} cascade`)
          report.schemas.push(schema)
        }
      }
      await c.query('commit')
    } catch (error) {
      await c.query('rollback')
      throw translateError(error, 'removing the control plane schemas')
    }
  })
  // The app role, on every server where nothing of another database depends on it any more; the
  // control plane's own roles (the tenant roles' group janua_<cp>_tenants, and any tenant or login
  // role a killed tenant drop left) on every server.
  for (const server of servers) {
    const pool = await janua.conn.adminPool(server)
    await withClient(pool, async (c) => {
      await dropRoleIfUnused(c, server, janua.appRole, report)
      const { rows } = await c.query<{ rolname: string }>(`select rolname from pg_roles where rolname like $1 order by length(rolname) desc, rolname`, [`janua\\_${cpId}\\_%`])
      for (const { rolname } of rows) await dropRoleIfUnused(c, server, rolname, report)
    })
  }
  return report
}

async function dropRoleIfUnused(c: pg.ClientBase, server: string, role: string, report: DestroyReport): Promise<void> {
  const { rows } = await c.query<{ oid: number } & { elsewhere: string | null }>(
    `select r.oid,
            (select string_agg(distinct coalesce(d.datname, 'a shared object'), ', ')
               from pg_shdepend s left join pg_database d on d.oid = s.dbid
              where s.refclassid = 'pg_authid'::regclass and s.refobjid = r.oid
                and s.dbid <> (select oid from pg_database where datname = current_database())
                and not (s.dbid = 0 and s.classid = 'pg_database'::regclass and s.objid = (select oid from pg_database where datname = current_database()))) as elsewhere
       from pg_roles r where r.rolname = $1`,
    [role],
  )
  if (!rows[0]) return
  // This control plane's grants to it go either way: on this database and in its schemas (a kept role keeps only others' grants).
  const database = (await c.query<{ d: string }>('select current_database() as d')).rows[0]!.d
  await c.query(`revoke all on database ${ident(database)} from ${ident(role)}`)
  const { rows: schemas } = await c.query<{ nspname: string }>(
    `select nspname from pg_namespace where nspname not like 'pg\\_%' and nspname <> 'information_schema' order by nspname`,
  )
  for (const { nspname } of schemas) {
    const s = ident(nspname)
    await c.query(
      `revoke all on schema ${s} from ${ident(role)}; revoke all on all tables in schema ${s} from ${ident(role)}; revoke all on all sequences in schema ${s} from ${ident(role)}; revoke all on all functions in schema ${s} from ${ident(role)}`,
    )
  }
  if (rows[0].elsewhere) {
    if (!report.keptRoles.some((k) => k.role === role && k.server === server))
      report.keptRoles.push({ server, role, reason: `still used in ${rows[0].elsewhere} (another control plane)` })
    return
  }
  // Its grants in this database (extensions schema, the database itself) go with it; it owns nothing (lint/app-role-owner).
  await c.query(`drop owned by ${ident(role)}`)
  await c.query(`drop role ${ident(role)}`)
  report.roles.push({ server, role })
}
