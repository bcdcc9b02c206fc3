import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import { sql } from 'kysely'
import { CONTROL_PLANE_STEPS } from '../sql/control-plane.js'
import { ident } from '../sql/ident.js'
import { inTransaction, withClient } from '../db/connection.js'
import { translateError } from '../db/errors.js'
import { withAdvisoryLock } from '../db/locks.js'
import { applyPending, ensureExtensions } from './apply.js'
import { grantDirectory } from './directory.js'
import type { Janua } from './context.js'
import { ExitCode, JanuaError } from './errors.js'
import { SHARED_SCHEMA, describePlacement, type Placement } from './placement.js'

const CONTROL_PLANE_LOCK = 'janua:control-plane'
const ids = new WeakMap<Janua, string>()

export interface InitResult {
  controlPlane: { id: string; database: string; schemaVersion: number; created: boolean }
  appRole: { name: string; created: boolean }
  sharedPlacement: { placement: Placement; version: number; applied: string[] }
}

async function readMeta(client: pg.ClientBase): Promise<Map<string, string> | undefined> {
  const { rows } = await client.query<{ t: string | null }>(`select to_regclass('janua.meta') as t`)
  if (!rows[0]?.t) return undefined
  const meta = await client.query<{ key: string; value: string }>('select key, value from janua.meta')
  return new Map(meta.rows.map((r) => [r.key, r.value]))
}

async function migrateControlPlane(client: pg.ClientBase): Promise<{ id: string; schemaVersion: number; created: boolean }> {
  return withAdvisoryLock(client, CONTROL_PLANE_LOCK, { what: 'the control plane' }, async () => {
    const meta = await readMeta(client)
    const created = !meta
    let version = Number(meta?.get('schema_version') ?? 0)
    if (version > CONTROL_PLANE_STEPS.length) {
      throw new JanuaError(`the control plane is at schema version ${version}, newer than this janua knows (${CONTROL_PLANE_STEPS.length})`, 1, 'upgrade janua')
    }
    for (; version < CONTROL_PLANE_STEPS.length; version++) {
      await inTransaction(client, async () => {
        await client.query(CONTROL_PLANE_STEPS[version]!)
        if (version === 0) {
          await client.query(`insert into janua.meta (key, value) values ('id', $1), ('schema_version', '0')`, [randomBytes(4).toString('hex')])
          await client.query(`insert into janua.servers (name) values ('primary')`)
        }
        await client.query(`update janua.meta set value = $1 where key = 'schema_version'`, [String(version + 1)])
      })
    }
    const id = (await readMeta(client))!.get('id')!
    return { id, schemaVersion: version, created }
  })
}

export async function ensureAppRole(client: pg.ClientBase, role: string): Promise<boolean> {
  const { rows } = await client.query<{ rolsuper: boolean; rolbypassrls: boolean }>('select rolsuper, rolbypassrls from pg_roles where rolname = $1', [role])
  if (rows[0]) {
    if (rows[0].rolsuper || rows[0].rolbypassrls) {
      throw new JanuaError(
        `the app role ${role} is ${rows[0].rolsuper ? 'a superuser' : 'allowed to bypass RLS'}: Row-Level Security would not separate tenants`,
        1,
        `run: ALTER ROLE ${ident(role)} NOSUPERUSER NOBYPASSRLS`,
      )
    }
    return false
  }
  try {
    await client.query(`create role ${ident(role)} nologin nosuperuser nobypassrls nocreatedb nocreaterole`)
    return true
  } catch (error) {
    // Another control plane on this server created it at the same moment.
    if ((error as { code?: string }).code === '42710' || (error as { code?: string }).code === '23505') return false
    throw error
  }
}

/**
 * Creates the placement's schema, owned by janua's role, reachable only by the app role; and the
 * database's extensions schema, on every placement's search_path (docs/design.md, "Extensions").
 */
export async function createPlacementSchema(client: pg.ClientBase, schema: string, appRole: string): Promise<void> {
  await ensureExtensions(client, [], appRole)
  await client.query(`create schema if not exists ${ident(schema)}`)
  await client.query(`revoke all on schema ${ident(schema)} from public`)
  await client.query(`grant usage on schema ${ident(schema)} to ${ident(appRole)}`)
}

/** `janua db init`: control plane, app role, shared placement with every template applied. Idempotent. */
export async function initDb(janua: Janua, options: { lockTimeoutMs?: number } = {}): Promise<InitResult> {
  const templates = janua.templates
  return withClient(janua.conn.primaryPool(), async (client) => {
    try {
      const cp = await migrateControlPlane(client)
      ids.set(janua, cp.id)
      const roleCreated = await ensureAppRole(client, janua.appRole)
      await grantDirectory(client, janua.appRole)
      const { rows } = await client.query<{ db: string }>('select current_database() as db')
      const placement: Placement = { server: 'primary', database: rows[0]!.db, schema: SHARED_SCHEMA }
      await createPlacementSchema(client, SHARED_SCHEMA, janua.appRole)
      const result = await applyPending(client, SHARED_SCHEMA, templates, { where: `shared placement ${describePlacement(placement)}`, lockTimeoutMs: options.lockTimeoutMs })
      await janua.db
        .insertInto('janua.placements')
        .values({ server: 'primary', database: placement.database, schema: SHARED_SCHEMA, kind: 'shared', version: result.version })
        .onConflict((oc) => oc.columns(['server', 'database', 'schema']).doUpdateSet({ version: result.version, updated_at: sql`now()` }))
        .execute()
      return {
        controlPlane: { id: cp.id, database: placement.database, schemaVersion: cp.schemaVersion, created: cp.created },
        appRole: { name: janua.appRole, created: roleCreated },
        sharedPlacement: { placement, version: result.version, applied: result.applied },
      }
    } catch (error) {
      throw translateError(error)
    }
  })
}

/** What one read of janua.meta found: nothing, or the id and schema version. */
export type ControlPlaneFacts = { present: false } | { present: true; id: string; schemaVersion: number }

/**
 * One query, no side effect: reads janua.meta. A database without the janua schema (SQLSTATE
 * 3F000) or without the table (42P01) has no control plane; every other error is the caller's.
 */
async function readControlPlane(janua: Janua): Promise<ControlPlaneFacts> {
  try {
    const { rows } = await janua.conn.primaryPool().query<{ key: string; value: string }>(`select key, value from janua.meta where key in ('id', 'schema_version')`)
    const meta = new Map(rows.map((r) => [r.key, r.value]))
    const id = meta.get('id')
    // A control plane whose first step never committed has no id: treat it as absent.
    return id ? { present: true, id, schemaVersion: Number(meta.get('schema_version') ?? 0) } : { present: false }
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === '3F000' || code === '42P01') return { present: false }
    throw translateError(error, 'reading the control plane')
  }
}

/** The decision, pure: may a command that reads (or writes) go on with what janua.meta says? */
export function judgeControlPlane(facts: ControlPlaneFacts, use: 'read' | 'write', database: string, known = CONTROL_PLANE_STEPS.length): { id: string; upgrade: boolean } {
  if (!facts.present)
    throw new JanuaError(
      `there is no janua control plane in database ${database}: run \`janua db init\` to create it, or point --database-url at the database that holds it`,
      ExitCode.usage,
    )
  if (facts.schemaVersion > known) {
    throw new JanuaError(`the control plane is at schema version ${facts.schemaVersion}, newer than this janua knows (${known})`, ExitCode.failed, 'upgrade janua')
  }
  if (facts.schemaVersion < known && use === 'read') {
    throw new JanuaError(
      `the control plane in database ${database} is at schema version ${facts.schemaVersion}, older than this janua's ${known}: run \`janua db init\` to upgrade it (read-only commands change nothing)`,
      ExitCode.usage,
    )
  }
  return { id: facts.id, upgrade: facts.schemaVersion < known }
}

/**
 * For read-only commands (list, inspect, status, verify, server list, every --dry-run): the
 * control plane must exist at this janua's schema version. One query; nothing is created or
 * upgraded, anywhere.
 */
export async function requireControlPlane(janua: Janua): Promise<string> {
  const known = ids.get(janua)
  if (known) return known
  const { id } = judgeControlPlane(await readControlPlane(janua), 'read', janua.conn.primaryDatabase)
  ids.set(janua, id)
  return id
}

/**
 * For commands that change things: the control plane must exist; one behind this janua's
 * schema version is upgraded (janua's own tables only: templates reach placements through
 * `db init` and `tenant migrate`). Only `tenant create` passes `create`: on a database without
 * a control plane (or one whose `db init` never finished) it then runs the whole `db init`.
 */
export async function ensureControlPlane(janua: Janua, options: { create?: boolean } = {}): Promise<string> {
  const known = ids.get(janua)
  if (known) return known
  const facts = await readControlPlane(janua)
  if (options.create && !(facts.present && (await sharedPlacementRecorded(janua)))) return (await initDb(janua)).controlPlane.id
  const { id, upgrade } = judgeControlPlane(facts, 'write', janua.conn.primaryDatabase)
  if (upgrade) await withClient(janua.conn.primaryPool(), (c) => migrateControlPlane(c))
  ids.set(janua, id)
  return id
}

/** `db init` ran to its end once: the primary's shared placement is recorded. */
async function sharedPlacementRecorded(janua: Janua): Promise<boolean> {
  const row = await janua.db.selectFrom('janua.placements').select('id').where('kind', '=', 'shared').where('server', '=', 'primary').executeTakeFirst()
  return !!row
}

/** The control plane id, when this run has created or read it. */
export const knownControlPlane = (janua: Janua): string | undefined => ids.get(janua)

/**
 * The control plane to write the audit row into, without creating anything: the one this run
 * read, else one found by a read of janua.meta (a command that failed before reading it, e.g.
 * on a bad flag), else none.
 */
export async function auditableControlPlane(janua: Janua): Promise<string | undefined> {
  const known = ids.get(janua)
  if (known) return known
  const facts = await readControlPlane(janua)
  return facts.present ? facts.id : undefined
}
