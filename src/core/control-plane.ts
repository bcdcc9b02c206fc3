import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import { sql } from 'kysely'
import { CONTROL_PLANE_STEPS } from '../sql/control-plane.js'
import { ident } from '../sql/ident.js'
import { inTransaction, withClient } from '../db/connection.js'
import { translateError } from '../db/errors.js'
import { withAdvisoryLock } from '../db/locks.js'
import { applyPending, ensureExtensions } from './apply.js'
import type { Janua } from './context.js'
import { JanuaError } from './errors.js'
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
      throw new JanuaError(`the app role ${role} is ${rows[0].rolsuper ? 'a superuser' : 'allowed to bypass RLS'}: Row-Level Security would not separate tenants`, 1,
        `run: ALTER ROLE ${ident(role)} NOSUPERUSER NOBYPASSRLS`)
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

/**
 * For commands that need the control plane: on first use it runs the whole `db init`; later it only
 * upgrades janua's own tables (templates reach placements through `db init` and `tenant migrate`).
 */
export async function ensureControlPlane(janua: Janua): Promise<string> {
  const known = ids.get(janua)
  if (known) return known
  const meta = await withClient(janua.conn.primaryPool(), (c) => readMeta(c))
  const placementExists = meta
    ? await janua.db.selectFrom('janua.placements').select('id').where('kind', '=', 'shared').where('server', '=', 'primary').executeTakeFirst()
    : undefined
  if (!meta || !placementExists) return (await initDb(janua)).controlPlane.id
  if (Number(meta.get('schema_version')) < CONTROL_PLANE_STEPS.length) {
    const cp = await withClient(janua.conn.primaryPool(), (c) => migrateControlPlane(c))
    ids.set(janua, cp.id)
    return cp.id
  }
  ids.set(janua, meta.get('id')!)
  return meta.get('id')!
}

/** Reads the control plane id without creating anything (read-only commands on an empty server). */
export async function controlPlaneExists(janua: Janua): Promise<boolean> {
  const meta = await withClient(janua.conn.primaryPool(), (c) => readMeta(c))
  return !!meta
}

/** The control plane id, when this run has created or read it (the audit log needs one). */
export const knownControlPlane = (janua: Janua): string | undefined => ids.get(janua)

/** For read-only commands (verify): the control plane must exist; nothing is created. */
export async function requireControlPlane(janua: Janua): Promise<string> {
  const known = ids.get(janua)
  if (known) return known
  const meta = await withClient(janua.conn.primaryPool(), (c) => readMeta(c))
  if (!meta?.get('id')) throw new JanuaError('there is no janua control plane in this database', 2, 'run `janua db init` first, or point --database-url at the right database')
  ids.set(janua, meta.get('id')!)
  return meta.get('id')!
}
