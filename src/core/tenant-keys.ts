import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type pg from 'pg'
import { inTransaction, withClient } from '../db/connection.js'
import { rememberSecret } from '../db/redact.js'
import type { Janua } from './context.js'
import { ensureControlPlane, requireControlPlane } from './control-plane.js'
import { ExitCode, JanuaError, usageError } from './errors.js'
import { parseKey, seal, unseal } from './sealed.js'
import { getTenant } from './tenants.js'

/**
 * Per-tenant data keys (envelope encryption): a random 256-bit key per tenant and version, stored in
 * janua.tenant_keys only wrapped by AES-256-GCM under the master key, bound (as GCM's additional
 * data) to the tenant and version so that a wrapped key copied to another row does not open. A
 * check value in janua.meta (a constant sealed under the master key) tells a wrong master key
 * before anything is written. Nothing but these commands and `tenant create` reads the master key.
 */
export const MASTER_KEY_VARIABLE = 'JANUA_MASTER_KEY'
export const MASTER_KEY_FILE_VARIABLE = 'JANUA_MASTER_KEY_FILE'
export const NEW_MASTER_KEY_VARIABLE = 'JANUA_NEW_MASTER_KEY'
export const MASTER_KEY_WRONG = 'master_key_wrong'
const CHECK_KEY = 'master_key_check'
const CHECK_PLAINTEXT = 'janua master key check'
const KEY_HINT = `generate one with \`openssl rand -base64 32\`, keep it in your secret store, and export ${MASTER_KEY_VARIABLE} (or ${MASTER_KEY_FILE_VARIABLE}=path)`

function keyFrom(variable: string, text: string | undefined): Buffer | undefined {
  if (!text?.trim()) return undefined
  rememberSecret(text.trim())
  const key = parseKey(text)
  if (!key) throw usageError(`$${variable} is not a 32-byte key (64 hex digits or 44 base64 characters)`, KEY_HINT)
  return key
}

/** The master key from the environment (or its file), or undefined when none is set. */
export function masterKey(env: NodeJS.ProcessEnv = process.env): Buffer | undefined {
  const direct = keyFrom(MASTER_KEY_VARIABLE, env[MASTER_KEY_VARIABLE])
  if (direct) return direct
  const file = env[MASTER_KEY_FILE_VARIABLE]?.trim()
  if (!file) return undefined
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw usageError(`cannot read the master key file $${MASTER_KEY_FILE_VARIABLE} (${file}): ${(error as Error).message}`, KEY_HINT)
  }
  return keyFrom(MASTER_KEY_FILE_VARIABLE, text)
}

function requireMasterKey(): Buffer {
  const key = masterKey()
  if (!key) throw usageError(`per-tenant keys need a master key, and neither $${MASTER_KEY_VARIABLE} nor $${MASTER_KEY_FILE_VARIABLE} is set`, KEY_HINT)
  return key
}

const keyAad = (tenantId: string, version: number) => `janua tenant key ${tenantId} v${version}`

const wrongKey = (what: string) =>
  new JanuaError(
    `${what} does not open with this master key ($${MASTER_KEY_VARIABLE}): nothing was changed`,
    ExitCode.usage,
    `export the master key the keys were wrapped with (after \`janua tenant key rewrap\`, the new one)`,
    MASTER_KEY_WRONG,
  )

/**
 * Checks the master key against the control plane's check value (set on first use, in the
 * caller's transaction), before any key is wrapped or unwrapped. A wrong key: exit 2, nothing written.
 */
async function checkMasterKey(client: pg.ClientBase, key: Buffer, options: { readOnly?: boolean } = {}): Promise<void> {
  const { rows } = await client.query<{ value: string }>('select value from janua.meta where key = $1', [CHECK_KEY])
  if (!rows[0]) {
    // A read (tenant key) writes nothing: without a check value there is no wrapped key either.
    if (options.readOnly) return
    await client.query('insert into janua.meta (key, value) values ($1, $2) on conflict (key) do nothing', [CHECK_KEY, seal(key, Buffer.from(CHECK_PLAINTEXT), CHECK_KEY)])
    return
  }
  if (unseal(key, rows[0].value, CHECK_KEY)?.toString() !== CHECK_PLAINTEXT) throw wrongKey('the control plane')
}

/** For `tenant create`: the master key, checked, when one is set (undefined: no key is made, nothing requires one). */
export async function masterKeyForCreate(janua: Janua): Promise<Buffer | undefined> {
  const key = masterKey()
  if (!key) return undefined
  await withClient(janua.conn.primaryPool(), (c) => inTransaction(c, () => checkMasterKey(c, key)))
  return key
}

/** Pure: a new random data key of a tenant, wrapped for its row in janua.tenant_keys. */
export const wrapNewKey = (key: Buffer, tenantId: string, version: number) => seal(key, randomBytes(32), keyAad(tenantId, version))

/** Adds the next key version of a tenant (1 for its first), inside the caller's transaction on the control plane. */
async function addKeyVersion(client: pg.ClientBase, key: Buffer, tenantId: string): Promise<number> {
  await client.query('select 1 from janua.tenants where id = $1 for update', [tenantId])
  const { rows } = await client.query<{ v: number }>('select coalesce(max(version), 0)::int + 1 as v from janua.tenant_keys where tenant_id = $1', [tenantId])
  const version = rows[0]!.v
  await client.query('insert into janua.tenant_keys (tenant_id, version, wrapped) values ($1, $2, $3)', [tenantId, version, wrapNewKey(key, tenantId, version)])
  return version
}

export interface TenantKey {
  slug: string
  tenantId: string
  version: number
  /** the unwrapped data key, base64 (32 bytes) */
  key: string
  /** every version the control plane holds */
  versions: number[]
}

async function readKey(client: pg.ClientBase, master: Buffer, tenant: { id: string; slug: string }, version?: number): Promise<TenantKey> {
  const { rows } = await client.query<{ version: number; wrapped: string }>('select version, wrapped from janua.tenant_keys where tenant_id = $1 order by version', [tenant.id])
  if (!rows.length) throw usageError(`tenant "${tenant.slug}" has no data key`, `create one with \`janua tenant key rotate ${tenant.slug}\``)
  const row = version === undefined ? rows[rows.length - 1]! : rows.find((r) => r.version === version)
  if (!row) throw usageError(`tenant "${tenant.slug}" has no key version ${version}`, `versions: ${rows.map((r) => r.version).join(', ')}`)
  const plain = unseal(master, row.wrapped, keyAad(tenant.id, row.version))
  if (!plain) throw wrongKey(`the key version ${row.version} of tenant "${tenant.slug}"`)
  const text = plain.toString('base64')
  rememberSecret(text)
  return { slug: tenant.slug, tenantId: tenant.id, version: row.version, key: text, versions: rows.map((r) => r.version) }
}

/** `janua tenant key <slug> [--version N]`: the unwrapped key (the newest version by default). */
export async function showTenantKey(janua: Janua, slug: string, options: { version?: number } = {}): Promise<TenantKey> {
  if (options.version !== undefined && !(Number.isSafeInteger(options.version) && options.version > 0))
    throw usageError(`invalid --version ${options.version}`, 'pass a version number: 1, 2, ...')
  const master = requireMasterKey()
  const row = await getTenant(janua, slug)
  await requireControlPlane(janua)
  return withClient(janua.conn.primaryPool(), async (c) => {
    await checkMasterKey(c, master, { readOnly: true })
    return readKey(c, master, row, options.version)
  })
}

/** `janua tenant key rotate <slug>`: a new version; the old ones stay readable. */
export async function rotateTenantKey(janua: Janua, slug: string): Promise<TenantKey> {
  const master = requireMasterKey()
  const row = await getTenant(janua, slug)
  await ensureControlPlane(janua)
  return withClient(janua.conn.primaryPool(), async (c) => {
    await inTransaction(c, async () => {
      await checkMasterKey(c, master)
      await addKeyVersion(c, master, row.id)
    })
    return readKey(c, master, row)
  })
}

/** `janua tenant key rewrap`: every wrapped key (and the check value) re-wrapped under $JANUA_NEW_MASTER_KEY, in one transaction. */
export async function rewrapTenantKeys(janua: Janua): Promise<{ rewrapped: number }> {
  const master = requireMasterKey()
  const next = keyFrom(NEW_MASTER_KEY_VARIABLE, process.env[NEW_MASTER_KEY_VARIABLE])
  if (!next) throw usageError(`$${NEW_MASTER_KEY_VARIABLE} is not set`, `export the new master key as ${NEW_MASTER_KEY_VARIABLE}, and the current one as ${MASTER_KEY_VARIABLE}`)
  await ensureControlPlane(janua)
  return withClient(janua.conn.primaryPool(), (c) =>
    inTransaction(c, async () => {
      await checkMasterKey(c, master)
      const { rows } = await c.query<{ tenant_id: string; version: number; wrapped: string }>('select tenant_id, version, wrapped from janua.tenant_keys for update')
      for (const row of rows) {
        const plain = unseal(master, row.wrapped, keyAad(row.tenant_id, row.version))
        if (!plain) throw wrongKey(`the key version ${row.version} of tenant ${row.tenant_id}`)
        await c.query('update janua.tenant_keys set wrapped = $3 where tenant_id = $1 and version = $2', [
          row.tenant_id,
          row.version,
          seal(next, plain, keyAad(row.tenant_id, row.version)),
        ])
      }
      await c.query('update janua.meta set value = $2 where key = $1', [CHECK_KEY, seal(next, Buffer.from(CHECK_PLAINTEXT), CHECK_KEY)])
      return { rewrapped: rows.length }
    }),
  )
}
