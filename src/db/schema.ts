import type { ColumnType, Generated, JSONColumnType } from 'kysely'

/** Typed view of the control plane (schema `janua`); the DDL is in src/sql/control-plane.ts. */
export type IsolationLevel = 'shared' | 'schema' | 'database'
export const ISOLATION_LEVELS: readonly IsolationLevel[] = ['shared', 'schema', 'database']
export type TenantStatus = 'provisioning' | 'active' | 'moving' | 'dropping'
export type CommercialStatus = 'trial' | 'active' | 'suspended' | 'cancelled'
export const COMMERCIAL_STATUSES: readonly CommercialStatus[] = ['trial', 'active', 'suspended', 'cancelled']
/** A suspended tenant: read-only (writes fenced) or no-read (unreachable by the app role too). */
export interface Suspension {
  mode: 'read-only' | 'no-read'
  reason: string | null
  at: string
  /** the commercial status before the suspension, restored by resume */
  previousStatus: CommercialStatus
}
export type OperationStatus = 'running' | 'succeeded' | 'failed' | 'aborted'

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>

export interface MetaTable {
  key: string
  value: string
}

export interface ServersTable {
  name: string
  /** a URL without its password, or null for the primary */
  url: string | null
  url_env: string | null
  password: string | null
  added_at: Generated<Date>
  /** the cluster's identity: pg_control_system().system_identifier, port and the database janua connects to */
  system_identifier: string | null
  port: number | null
  maintenance_database: string | null
  server_version_num: number | null
}

export interface PlacementsTable {
  id: Generated<string>
  server: string
  database: string
  schema: string
  kind: IsolationLevel
  version: Generated<number>
  created_at: Generated<Date>
  updated_at: Generated<Date>
}

export interface TenantsTable {
  id: Generated<string>
  slug: string
  name: string
  status: TenantStatus
  isolation: IsolationLevel
  placement_id: string
  domain: string | null
  plan: string | null
  billing_email: string | null
  features: JSONColumnType<Record<string, unknown>, string | undefined, string>
  settings: JSONColumnType<Record<string, unknown>, string | undefined, string>
  created_at: Generated<Date>
  updated_at: Timestamp
  commercial_status: Generated<CommercialStatus>
  limits: JSONColumnType<Record<string, unknown>, string | undefined, string>
  suspension: JSONColumnType<Suspension | null, string | null | undefined, string | null>
}

export interface OperationsTable {
  id: Generated<string>
  run_id: string | null
  kind: string
  tenant_id: string | null
  tenant_slug: string | null
  placement_id: string | null
  status: OperationStatus
  step: string | null
  detail: JSONColumnType<Record<string, unknown>, string | undefined, string>
  error: string | null
  started_at: Generated<Date>
  finished_at: Date | null
  pid: number | null
  host: string | null
}

export interface AuditLogTable {
  id: Generated<string>
  at: Generated<Date>
  actor: string
  db_user: string | null
  command: string
  args: JSONColumnType<string[], string, string>
  exit_code: number
  error: string | null
  duration_ms: number
}

/**
 * What an aborted move left at its target, or a source kept by --keep-source: recorded before
 * janua gives up on it, shown by inspect/status/verify, removed by `janua tenant cleanup`.
 * what: 'database' (drop it), 'schema' (drop it), 'rows' (the tenant's rows and fence triggers in a shared placement).
 */
export interface LeftoversTable {
  id: Generated<string>
  tenant_id: string | null
  tenant_slug: string | null
  operation_id: string | null
  kind: 'move-target' | 'kept-source'
  server: string
  database: string
  schema: string
  what: 'database' | 'schema' | 'rows'
  detail: JSONColumnType<Record<string, unknown>, string | undefined, string>
  error: string | null
  created_at: Generated<Date>
}

export interface ControlPlane {
  'janua.leftovers': LeftoversTable
  'janua.meta': MetaTable
  'janua.servers': ServersTable
  'janua.placements': PlacementsTable
  'janua.tenants': TenantsTable
  'janua.operations': OperationsTable
  'janua.audit_log': AuditLogTable
}
