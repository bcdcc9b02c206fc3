import type pg from 'pg'
import { withClient } from '../db/connection.js'
import { ident, quoted } from '../sql/ident.js'
import type { Janua } from './context.js'
import { usageError } from './errors.js'
import { validateText } from './validate.js'

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
