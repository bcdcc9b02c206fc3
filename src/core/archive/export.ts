import fs from 'node:fs'
import path from 'node:path'
import copyStreams from 'pg-copy-streams'
import { placementTables } from '../../catalog/tables.js'
import { inTransaction } from '../../db/connection.js'
import { translateError } from '../../db/errors.js'
import { ident, literal } from '../../sql/ident.js'
import { readApplied, versionOf } from '../apply.js'
import type { Janua } from '../context.js'
import { driverFor } from '../isolation/index.js'
import { finishOperation, startOperation } from '../journal.js'
import { readSequences, tableChecksum, tableShapes } from '../move/copy.js'
import { failOperation, getTenant } from '../tenants.js'
import { ArchiveWriter, BlockGzipWriter, FORMAT_VERSION, type ArchiveManifest, type ArchiveTable } from './format.js'

const { to: copyTo } = copyStreams

export type ExportEvent = { type: 'table'; table: string; index: number; total: number } | { type: 'bytes'; table: string; bytes: number }

export interface ExportResult {
  file: string
  bytes: number
  tenant: ArchiveManifest['tenant']
  templateVersion: number
  tables: { name: string; rows: number; checksum: string }[]
  durationMs: number
}

/** The content checksum leaves tenant_id out: an import with --new-id compares the same figure. */
export const checksumColumnsOf = (columns: string[]) => columns.filter((c) => c !== 'tenant_id')

/**
 * `janua tenant export`: the tenant's rows of every tenant table (tables with tenant_id) at one
 * REPEATABLE READ snapshot, streamed (binary COPY -> gzip members compressed on the thread pool -> file, never whole in memory), then the
 * manifest. Written to <file>.partial and renamed at the end: a failed export leaves no file.
 * The tenant's writes go on meanwhile (a read-only snapshot takes no lock that blocks them).
 */
export async function exportTenant(janua: Janua, slug: string, options: { output?: string; onEvent?: (e: ExportEvent) => void } = {}): Promise<ExportResult> {
  const started = Date.now()
  const row = await getTenant(janua, slug)
  const file = path.resolve(options.output ?? `${slug}-${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}.janua.gz`)
  const partial = `${file}.partial`
  const driver = driverFor(row.isolation)
  const placement = { server: row.server, database: row.database, schema: row.schema }
  const operationId = await startOperation(janua, {
    kind: 'tenant.export',
    tenantId: row.id,
    tenantSlug: slug,
    placementId: String(row.placement_id),
    step: 'export',
    detail: { file },
  })
  const out = fs.createWriteStream(partial, { mode: 0o600 })
  const gzip = new BlockGzipWriter(out)
  try {
    const writer = new ArchiveWriter(gzip)
    await writer.start()
    const manifest = await driver.connect(janua, placement, (client) =>
      inTransaction(client, async () => {
        await client.query('set transaction isolation level repeatable read, read only')
        // Checksums hash rows as text: the same time zone on both sides makes timestamps agree.
        await client.query(`set local timezone = 'UTC'`)
        const { rows: snap } = await client.query<{ s: string }>('select pg_export_snapshot() as s')
        const applied = await readApplied(client, row.schema)
        const tables = (await placementTables(client, row.schema)).filter((t) => t.hasTenantId).map((t) => t.name)
        const shapes = await tableShapes(client, row.schema, tables)
        // The checksums are computed by a second session at the same snapshot, beside the COPYs: one pass's time, not two.
        const sums = driver
          .connect(janua, placement, (second) =>
            inTransaction(second, async () => {
              await second.query('set transaction isolation level repeatable read, read only')
              await second.query(`set transaction snapshot ${literal(snap[0]!.s)}`)
              await second.query(`set local timezone = 'UTC'`)
              const out = new Map<string, { rows: number; checksum: string }>()
              for (const name of tables) out.set(name, await tableChecksum(second, row.schema, shapes.get(name)!, row.id, checksumColumnsOf(shapes.get(name)!.columns)))
              return out
            }),
          )
          .then(
            (value) => ({ value, error: undefined }),
            (error: unknown) => ({ value: undefined, error }),
          )
        const copied: Omit<ArchiveTable, 'rows' | 'checksum'>[] = []
        for (const [index, name] of tables.entries()) {
          options.onEvent?.({ type: 'table', table: name, index, total: tables.length })
          const shape = shapes.get(name)!
          const stream = client.query(
            copyTo(
              `copy (select ${shape.columns.map(ident).join(', ')} from ${ident(row.schema)}.${ident(name)} where tenant_id = ${literal(row.id)}::uuid) to stdout (format binary)`,
            ),
          )
          const { sha256, bytes } = await writer.table(name, stream, (b) => options.onEvent?.({ type: 'bytes', table: name, bytes: b }))
          copied.push({ name, columns: shape.columns, checksumColumns: checksumColumnsOf(shape.columns), sha256, bytes })
        }
        const checked = await sums
        if (!checked.value) throw checked.error
        const out: ArchiveTable[] = copied.map((t) => ({ ...t, ...checked.value.get(t.name)! }))
        const { rows: v } = await client.query<{ v: number }>(`select current_setting('server_version_num')::int as v`)
        const version = versionOf(applied)
        return {
          format: FORMAT_VERSION,
          createdAt: new Date().toISOString(),
          serverVersionNum: v[0]!.v,
          tenant: {
            id: row.id,
            slug: row.slug,
            name: row.name,
            isolation: row.isolation,
            commercialStatus: row.commercial_status,
            plan: row.plan,
            limits: row.limits ?? {},
            domain: row.domain,
          },
          templateVersion: version,
          templates: applied.map((a) => ({ file: a.file, version: a.version, sha256: a.sha256 })),
          tables: out,
          sequences: await readSequences(client, row.schema, [...shapes.values()]),
        } satisfies ArchiveManifest
      }),
    )
    await writer.finish(manifest)
    await gzip.end()
    fs.renameSync(partial, file)
    const bytes = fs.statSync(file).size
    const result = {
      file,
      bytes,
      tenant: manifest.tenant,
      templateVersion: manifest.templateVersion,
      tables: manifest.tables.map((t) => ({ name: t.name, rows: t.rows, checksum: t.checksum })),
      durationMs: Date.now() - started,
    }
    await finishOperation(janua, operationId, 'succeeded', undefined, {
      file,
      bytes,
      templateVersion: manifest.templateVersion,
      rows: manifest.tables.reduce((n, t) => n + t.rows, 0),
    })
    return result
  } catch (error) {
    out.destroy()
    fs.rmSync(partial, { force: true })
    throw await failOperation(janua, operationId, translateError(error, `exporting ${slug}`))
  }
}
