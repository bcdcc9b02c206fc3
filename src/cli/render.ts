import type { Tenant, TenantInspection } from '../core/tenants.js'
import { usageError } from '../core/errors.js'
import { colour, formatBytes, statusColour, table, tsv } from './output.js'

export const placementText = (t: Pick<Tenant, 'placement'>) => `${t.placement.server}/${t.placement.database}/${t.placement.schema}`

export function renderTenant(t: Tenant): string {
  return `${colour.bold(t.slug)} (${t.name}) ${statusColour(t.status)}, ${t.isolation} at ${placementText(t)}, version ${t.version}, id ${t.id}`
}

/**
 * The tenant list: a padded table for people; for a pipe (`tsv`) tab-separated rows, one tenant a
 * line, without a header unless asked (cut, awk and `while read` need no parsing of padding).
 */
/** The columns `tenant list --columns` may name, in their default order first. */
const TENANT_COLUMNS: Record<string, (t: Tenant) => string | number> = {
  slug: (t) => t.slug,
  name: (t) => t.name,
  status: (t) => t.status,
  isolation: (t) => t.isolation,
  placement: (t) => placementText(t),
  version: (t) => t.version,
  id: (t) => t.id,
  server: (t) => t.placement.server,
  database: (t) => t.placement.database,
  schema: (t) => t.placement.schema,
  'commercial-status': (t) => t.commercialStatus ?? '',
  plan: (t) => t.plan ?? '',
}
export const DEFAULT_TENANT_COLUMNS = ['slug', 'name', 'status', 'isolation', 'placement', 'version']
export const TENANT_COLUMN_NAMES = Object.keys(TENANT_COLUMNS)

/** Pure: the columns of `--columns slug,version` (in that order), or a usage error naming the ones there are. */
export function parseTenantColumns(text: string | undefined): string[] {
  if (text === undefined) return DEFAULT_TENANT_COLUMNS
  const names = text
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter(Boolean)
  const unknown = names.filter((n) => !(n in TENANT_COLUMNS))
  if (!names.length || unknown.length)
    throw usageError(
      `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ') || '(none given)'}`,
      `--columns takes a comma-separated list of: ${TENANT_COLUMN_NAMES.join(', ')}`,
    )
  return names
}

export function renderTenantList(tenants: Tenant[], options: { tsv?: boolean; header?: boolean; columns?: string[] } = {}): string {
  const columns = options.columns ?? DEFAULT_TENANT_COLUMNS
  const headers = columns.map((c) => c.toUpperCase())
  const rows = tenants.map((t) => columns.map((c) => TENANT_COLUMNS[c]!(t)))
  if (options.tsv) return tsv(options.header ? [headers, ...rows] : rows)
  if (tenants.length === 0) return 'no tenants'
  return table(headers, rows, { header: options.header !== false })
}

export function renderInspection(t: TenantInspection): string {
  const lines = [
    renderTenant(t),
    `pending: ${t.pending.length ? colour.yellow(t.pending.join(', ')) : 'none'}`,
    `size: ${formatBytes(t.sizeBytes)}`,
    '',
    table(
      ['TABLE', 'ROWS'],
      t.tables.map((r) => [r.name, r.rows]),
    ),
  ]
  if (t.lastMove)
    lines.push(`last move: ${t.lastMove.status} at ${t.lastMove.at}, ${t.lastMove.capture === 'trigger' ? 'online' : 'offline'}, writes fenced ${t.lastMove.fencedMs ?? '-'} ms`)
  if (t.move) lines.push('', colour.yellow(`unfinished move at step ${t.move.step ?? 'planned'}: janua tenant move ${t.slug} --resume | --abort`))
  if (t.leftovers.length) {
    lines.push(
      '',
      colour.yellow(`${t.leftovers.length} leftover(s), removed by: janua tenant cleanup ${t.slug}`),
      table(
        ['KIND', 'WHAT', 'PLACEMENT', 'ERROR'],
        t.leftovers.map((l) => [l.kind, l.what, `${l.placement.server}/${l.placement.database}/${l.placement.schema}`, l.error ?? '']),
      ),
    )
  }
  if (t.operations.length) {
    lines.push(
      '',
      table(
        ['OPERATION', 'STATUS', 'STEP', 'STARTED', 'ERROR'],
        t.operations.map((o) => [o.kind, o.status, o.step ?? '', o.startedAt, o.error ?? '']),
      ),
    )
  }
  return lines.join('\n')
}
