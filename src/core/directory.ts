import type pg from 'pg'
import { withClient } from '../db/connection.js'
import { isPgError } from '../db/errors.js'
import { ident, quoted } from '../sql/ident.js'
import type { Janua } from './context.js'
import { ensureControlPlane } from './control-plane.js'
import { usageError } from './errors.js'
import { validateText } from './validate.js'
import { getTenant } from './tenants.js'

/**
 * The tenant directory: janua.resolve_tenant(slug_or_domain), SECURITY DEFINER with a fixed
 * search_path, the one thing of the control plane the app role may use (its tables stay closed).
 * Domains are unique, kept lowercase.
 */

/** Pure: a domain as stored (lowercase, without a trailing dot), or a usage error. */
export function validateDomain(domain: string, flag = '--domain'): string {
  const text = validateText('the domain', flag, domain, 253).toLowerCase().replace(/\.$/, '')
  if (!/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/.test(text))
    throw usageError(`invalid domain ${quoted(text)}`, `pass ${flag} as a host name, e.g. acme.example.com`)
  return text
}

/** Refuses a domain another tenant has (exit 2, before anything is created). */
export async function ensureDomainFree(janua: Janua, domain: string, exceptTenantId?: string): Promise<void> {
  const { rows } = await janua.conn
    .primaryPool()
    .query<{ slug: string }>('select slug from janua.tenants where domain = $1 and id is distinct from $2', [domain, exceptTenantId ?? null])
  if (rows[0]) throw usageError(`the domain ${domain} belongs to tenant "${rows[0].slug}"`, 'a domain names one tenant: choose another, or change that tenant first')
}

/** Sets (or, with null, removes) a tenant's domain; for `tenant update --domain`. */
export async function setTenantDomain(janua: Janua, slug: string, domain: string | null): Promise<{ slug: string; domain: string | null }> {
  const value = domain === null ? null : validateDomain(domain)
  const row = await getTenant(janua, slug)
  await ensureControlPlane(janua)
  if (value !== null) await ensureDomainFree(janua, value, row.id)
  try {
    await janua.conn.primaryPool().query('update janua.tenants set domain = $2, updated_at = now() where id = $1', [row.id, value])
  } catch (error) {
    // 23505: another run took the domain between the check and the update.
    if (isPgError(error) && error.code === '23505') throw usageError(`the domain ${value} belongs to another tenant`, 'choose another domain')
    throw error
  }
  return { slug, domain: value }
}

/** The app role may call the directory (and use the janua schema for that alone: no table of it is granted). Run by `db init`. */
export async function grantDirectory(client: pg.ClientBase, appRole: string): Promise<void> {
  await client.query(`grant usage on schema janua to ${ident(appRole)}`)
  await client.query(`grant execute on function janua.resolve_tenant(text) to ${ident(appRole)}`)
}

export interface DirectoryEntry {
  id: string
  slug: string
  status: string
  isolation: string
  server: string
  host: string | null
  port: number | null
  database: string
  schema: string
  /** trial, active, suspended, cancelled (`tenant update`, `tenant suspend`) */
  commercial_status: string
  /** null, or how the tenant is suspended: 'read-only' (writes fail) or 'no-read' (unreachable) */
  suspended: string | null
}

/** What the application's query returns, as janua's own session reads it (for tests and tools). */
export async function resolveTenant(janua: Janua, slugOrDomain: string): Promise<DirectoryEntry | undefined> {
  return withClient(janua.conn.primaryPool(), async (c) => (await c.query<DirectoryEntry>('select * from janua.resolve_tenant($1)', [slugOrDomain])).rows[0])
}
