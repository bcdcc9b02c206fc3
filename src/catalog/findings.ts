/**
 * Findings of `db verify`. Codes are stable (scripts and --ignore rely on them):
 *   drift/<kind>   the placement differs from what the templates declare
 *   lint/<rule>    a tenant-isolation rule is broken
 *   fleet/<fact>   the control plane and the servers disagree
 */
export type FindingChange = 'missing' | 'unexpected' | 'different'

export interface Finding {
  code: string
  change: FindingChange
  /** e.g. "index users_tenant_status_idx" */
  object: string
  expected?: string
  actual?: string
  message: string
  /** drift findings: the server the placement is on and its PostgreSQL version (the expected catalog is per major version) */
  server?: string
  serverVersion?: string
}

export const LINT_RULES = {
  'lint/rls-disabled': 'a table with tenant_id has Row-Level Security disabled',
  'lint/rls-not-forced': 'a table with tenant_id does not FORCE Row-Level Security (its owner bypasses it)',
  'lint/no-tenant-policy': 'a table with tenant_id has no policy using tenant_id in USING and WITH CHECK',
  'lint/policy-always-true': 'a policy lets every row through (USING or WITH CHECK is true)',
  'lint/app-role-superuser': 'the app role is a superuser: RLS does not apply to it',
  'lint/app-role-bypassrls': 'the app role has BYPASSRLS',
  'lint/app-role-owner': 'the app role owns a table: it could disable RLS on it',
  'lint/public-connect': 'PUBLIC may connect to a tenant database',
  'lint/tenant-role-reach': "a tenant's login role may reach a database or schema outside its placement, or has SUPERUSER, BYPASSRLS, CREATEDB or CREATEROLE",
  'lint/public-create': 'PUBLIC may create objects in a tenant schema',
  'lint/fk-without-tenant': 'a foreign key between tenant tables does not include tenant_id',
  'lint/index-not-tenant-led': 'a non-unique index on a tenant table does not lead with tenant_id',
  'lint/view-not-security-invoker': "a view runs with its owner's rights (no security_invoker): RLS is checked for the owner, not the caller",
  'lint/public-grant': 'a table, view or sequence grants privileges to PUBLIC',
} as const

export const FLEET_CODES = {
  'fleet/placement-missing': "a tenant's schema or database does not exist",
  'fleet/orphan': "a schema or database looks like a tenant's but belongs to no tenant",
  'fleet/version-mismatch': "the control plane records another version than the placement's history",
  'fleet/unreachable': 'the placement could not be read',
  'fleet/unplaced-rows': 'a shared placement holds rows of a tenant id that is not placed there (nobody reads them)',
  'fleet/stray-capture': 'a capture trigger or log table of a move that is not running',
  'fleet/stray-slot': 'a logical replication slot of a move that is not running (it pins WAL until the disk fills)',
  'fleet/stray-publication': 'a publication of a move that is not running',
  'fleet/stray-fence': 'a write fence of a tenant that is not being moved (its writes are refused)',
  'fleet/kept-source': 'a source kept by tenant move --keep-source (remove with janua tenant cleanup)',
  'fleet/move-leftover': 'what an aborted move could not remove at its target (remove with janua tenant cleanup)',
} as const

export function isIgnored(code: string, ignore: string[]): boolean {
  return ignore.some((i) => code === i || code.startsWith(`${i.replace(/\/$/, '')}/`))
}
