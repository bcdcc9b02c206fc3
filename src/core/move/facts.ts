import type pg from 'pg'
import { placementTables } from '../../catalog/tables.js'
import { ident, validateServerName } from '../../sql/ident.js'
import { readApplied, versionOf } from '../apply.js'
import type { Janua } from '../context.js'
import { driverFor, locateContext, sharedRefusal, stampOf } from '../isolation/index.js'
import { listLeftovers } from '../leftovers.js'
import type { Placement } from '../placement.js'
import type { getTenant } from '../tenants.js'
import { validateIsolation } from '../tenants.js'
import { tableChecksum, tableShapes, type TableShape } from './copy.js'
import type { CaptureMode, MoveFacts, SourceTableFacts } from './plan.js'
import { primaryKeys } from './capture.js'
import { logicalFacts, replicaIdentities } from './logical.js'
import { usageError } from '../errors.js'

function validateCapture(value: string | undefined): CaptureMode | 'auto' {
  if (value === undefined || value === 'auto') return 'auto'
  if (value === 'logical' || value === 'trigger' || value === 'none') return value
  throw usageError(
    `invalid --capture ${JSON.stringify(value)}`,
    'use --capture logical or trigger (online: writes go on during the copy) or none (writes fenced for the whole copy)',
  )
}

type TenantRow = Awaited<ReturnType<typeof getTenant>>

const samePlacement = (a: Placement, b: Placement) => a.server === b.server && a.database === b.database && a.schema === b.schema

/** Reads only: the source's tables, counts and checksums; the target's existence, version and reference data. */
export async function gatherMoveFacts(
  janua: Janua,
  row: TenantRow,
  options: { to?: string; server?: string; keepSource?: boolean; capture?: string; now?: Date },
): Promise<MoveFacts> {
  const to = validateIsolation(options.to)
  const server = validateServerName(options.server ?? row.server)
  const fromDriver = driverFor(row.isolation)
  const toDriver = driverFor(to)
  const ctx = locateContext(janua)
  const from: Placement = { server: row.server, database: row.database, schema: row.schema }
  await janua.conn.serverConfig(server) // an unknown --server: exit 2 before anything is read
  const target = toDriver.locate(ctx, row.slug, server)

  const source = await fromDriver.connect(janua, from, async (client) => {
    const version = versionOf(await readApplied(client, from.schema))
    const tables = await placementTables(client, from.schema)
    const shapes = await tableShapes(
      client,
      from.schema,
      tables.map((t) => t.name),
    )
    const keys = await primaryKeys(client, from.schema)
    const identities = await replicaIdentities(client, from.schema)
    const logical = await logicalFacts(client)
    const facts: SourceTableFacts[] = []
    for (const t of tables) {
      const shape = shapes.get(t.name)!
      const q = `${ident(from.schema)}.${ident(t.name)}`
      const counted = await client.query<{ n: number; foreign: number; bytes: number }>(
        t.hasTenantId
          ? `select count(*) filter (where tenant_id = $1)::bigint as n, count(*) filter (where tenant_id <> $1)::bigint as foreign, coalesce(sum(pg_column_size(x.*)) filter (where tenant_id = $1), 0)::bigint as bytes from ${q} x`
          : `select count(*)::bigint as n, 0 as foreign, coalesce(sum(pg_column_size(x.*)), 0)::bigint as bytes from ${q} x where $1::uuid is not null`,
        [row.id],
      )
      const checksum = t.hasTenantId ? '' : (await tableChecksum(client, from.schema, shape, null, shape.contentColumns)).checksum
      const c = counted.rows[0]!
      facts.push({
        name: t.name,
        hasTenantId: t.hasTenantId,
        rlsEnabled: t.rlsEnabled,
        rlsForced: t.rlsForced,
        rows: Number(c.n),
        foreign: Number(c.foreign),
        bytes: Number(c.bytes),
        checksum,
        primaryKey: keys.get(t.name) ?? null,
        replicaIdentity: identities.get(t.name) ?? null,
      })
    }
    return { version, tables: facts, shapes, logical }
  })

  const exists = await toDriver.exists(janua, target)
  let version: number | null = null
  const reference: MoveFacts['target']['reference'] = {}
  if (toDriver.sharesPlacement && exists) {
    version = await toDriver.connect(janua, target, async (client) => {
      for (const f of source.tables.filter((x) => !x.hasTenantId)) {
        const there = await readReference(client, target.schema, source.shapes.get(f.name)!)
        if (there) reference[f.name] = there
      }
      return versionOf(await readApplied(client, target.schema))
    })
  }
  const leftovers = await listLeftovers(janua, { tenantId: row.id })
  return {
    tenant: { id: row.id, slug: row.slug, name: row.name, status: row.status, isolation: row.isolation, placementId: String(row.placement_id), placement: from },
    request: { to, server, keepSource: !!options.keepSource, capture: validateCapture(options.capture) },
    from: { sharesPlacement: fromDriver.sharesPlacement },
    to: { sharesPlacement: toDriver.sharesPlacement },
    source: { version: source.version, tables: source.tables, logical: source.logical },
    target: { placement: target, exists, version, reference },
    leftoversAtTarget: leftovers.filter((l) => samePlacement(l.placement, target)).map((l) => ({ kind: l.kind, placement: l.placement })),
    keptAs: fromDriver.keptPlacement(ctx, from, row.slug, stampOf(options.now ?? new Date())),
    sharedRefusal: toDriver.sharesPlacement ? sharedRefusal(source.tables, janua.settings.templatesDir) : null,
  }
}

async function readReference(client: pg.ClientBase, schema: string, shape: TableShape): Promise<{ rows: number; checksum: string } | null> {
  const exists = await client.query<{ t: string | null }>('select to_regclass($1) as t', [`${ident(schema)}.${ident(shape.name)}`])
  if (!exists.rows[0]?.t) return null
  return tableChecksum(client, schema, shape, null, shape.contentColumns)
}
