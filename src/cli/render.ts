import type { Tenant, TenantInspection } from '../core/tenants.js'
import { colour, formatBytes, statusColour, table, tsv } from './output.js'

export const placementText = (t: Pick<Tenant, 'placement'>) => `${t.placement.server}/${t.placement.database}/${t.placement.schema}`

export function renderTenant(t: Tenant): string {
  return `${colour.bold(t.slug)} (${t.name}) ${statusColour(t.status)}, ${t.isolation} at ${placementText(t)}, version ${t.version}, id ${t.id}`
}

/**
 * The tenant list: a padded table for people; for a pipe (`tsv`) tab-separated rows, one tenant a
 * line, without a header unless asked (cut, awk and `while read` need no parsing of padding).
 */
export function renderTenantList(tenants: Tenant[], options: { tsv?: boolean; header?: boolean } = {}): string {
  const headers = ['SLUG', 'NAME', 'STATUS', 'ISOLATION', 'PLACEMENT', 'VERSION']
  const rows = tenants.map((t) => [t.slug, t.name, t.status, t.isolation, placementText(t), t.version])
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
