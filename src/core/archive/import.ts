import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import type pg from 'pg'
import copyStreams from 'pg-copy-streams'
import { inTransaction } from '../../db/connection.js'
import { ident, literal, validateSlug } from '../../sql/ident.js'
import type { Janua } from '../context.js'
import { ensureControlPlane } from '../control-plane.js'
import { usageError } from '../errors.js'
import { faultPoint } from '../fault.js'
import { driverFor } from '../isolation/index.js'
import { tableChecksum, tableShapes, writeSequences } from '../move/copy.js'
import type { TemplateSet } from '../templates.js'
import type { CommercialStatus } from '../../db/schema.js'
import { createTenant, validateIsolation, type Tenant } from '../tenants.js'
import { FORMAT_VERSION, damaged, readArchive, type ArchiveManifest, type TableSection } from './format.js'

const { from: copyFrom } = copyStreams

export type ImportEvent = { type: 'verify'; table: string } | { type: 'copy'; table: string; index: number; total: number }

export interface ImportResult extends Tenant {
  file: string
  newId: boolean
  fromTenant: { id: string; slug: string; isolation: string }
  tables: { name: string; rows: number; checksum: string }[]
  durationMs: number
}

/** First pass: every section's bytes against the manifest's sha256 and size, and the manifest's own checksum. Writes nothing. */
export async function verifyArchive(file: string, onEvent?: (e: ImportEvent) => void): Promise<ArchiveManifest> {
  if (!fs.existsSync(file)) throw usageError(`no file ${file}`, 'pass the path of a file written by `janua tenant export`')
  const seen: { name: string; sha256: string; bytes: number }[] = []
  for await (const item of readArchive(file)) {
    if ('manifest' in item) {
      const m = item.manifest
      if (m.format !== FORMAT_VERSION)
        throw usageError(`archive format ${m.format} is not supported (this janua reads ${FORMAT_VERSION})`, 'import it with the janua version that exported it')
      const names = m.tables.map((t) => t.name)
      if (names.join('\n') !== seen.map((s) => s.name).join('\n')) throw damaged('its table sections differ from its manifest')
      for (const [i, t] of m.tables.entries()) {
        if (t.sha256 !== seen[i]!.sha256 || t.bytes !== seen[i]!.bytes) throw damaged(`the rows of table ${t.name} do not match their checksum`)
      }
      return m
    }
    onEvent?.({ type: 'verify', table: item.name })
    for await (const chunk of item.chunks) void chunk
    seen.push({ name: item.name, ...item.digest() })
  }
  throw damaged('it has no manifest')
}

export interface ImportInput {
  file: string
  as?: string
  isolation?: string
  server?: string
  newId?: boolean
  onEvent?: (e: ImportEvent) => void
}

/**
 * Pure: the archive's applied templates must be this installation's, file by file (sha256); the
 * tenant id and slug must be free (a slug left 'provisioning' by a killed run is create's to clean).
 */
export function decideImport(
  manifest: ArchiveManifest,
  set: Pick<TemplateSet, 'files' | 'dir'>,
  facts: { idTaken: boolean; slugTaken: boolean },
  input: Pick<ImportInput, 'as' | 'isolation' | 'newId'>,
): { slug: string; isolation: string; id: string | undefined } {
  const ours = new Map(set.files.map((f) => [f.name, f.sha256]))
  const differing = manifest.templates.filter((t) => ours.get(t.file) !== t.sha256).map((t) => t.file)
  if (differing.length) {
    throw usageError(
      `the archive was made with templates that differ from ${set.dir}: ${differing.join(', ')} ${differing.length === 1 ? 'is' : 'are'} missing here or changed (sha256)`,
      "import it into an installation with the exporter's template files (up to its version), or point --templates at them",
    )
  }
  const slug = validateSlug(input.as ?? manifest.tenant.slug)
  if (facts.slugTaken) throw usageError(`tenant "${slug}" already exists`, 'drop it first, or import under another slug with --as <slug>')
  if (facts.idTaken && !input.newId) {
    throw usageError(
      `tenant id ${manifest.tenant.id} already exists in this control plane`,
      'pass --new-id to give the import a new id (tenant_id is rewritten; keys that are not tenant-scoped can still collide in a shared placement)',
    )
  }
  return { slug, isolation: validateIsolation(input.isolation ?? manifest.tenant.isolation), id: input.newId ? undefined : manifest.tenant.id }
}

/**
 * Pure: binary COPY data is read by a server of the same PostgreSQL major or a newer one (binary
 * send/receive formats are kept backward compatible); an older server may not read it: refused.
 */
export function checkServerMajor(archiveVersionNum: number, targetVersionNum: number, where: string): void {
  const from = Math.floor(archiveVersionNum / 10000)
  const to = Math.floor(targetVersionNum / 10000)
  if (to < from)
    throw usageError(
      `the archive was exported from PostgreSQL ${from}; ${where} runs PostgreSQL ${to}`,
      `import it on a server of PostgreSQL ${from} or newer (--server), or export it again from a server of ${to}`,
    )
}

/** Streams a section's binary COPY data into the table (or, with a new id, through a temporary table whose tenant_id is rewritten). */
async function copySection(client: pg.ClientBase, schema: string, section: TableSection, columns: string[], newId: string | null): Promise<void> {
  const list = columns.map(ident).join(', ')
  const target = `${ident(schema)}.${ident(section.name)}`
  if (newId === null) {
    await pipeline(Readable.from(section.chunks), client.query(copyFrom(`copy ${target} (${list}) from stdin (format binary)`)))
    return
  }
  await client.query(`create temporary table janua_import (like ${target}) on commit drop`)
  await pipeline(Readable.from(section.chunks), client.query(copyFrom(`copy janua_import (${list}) from stdin (format binary)`)))
  const select = columns.map((c) => (c === 'tenant_id' ? `${literal(newId)}::uuid` : ident(c))).join(', ')
  await client.query(`insert into ${target} (${list}) select ${select} from janua_import`)
  await client.query('drop table janua_import')
}

/**
 * `janua tenant import`: verify the whole archive first (a second pass copies), refuse exit 2 on
 * damage, other templates, a taken id or slug; then create's machinery (provisioning row, tenant
 * lock, leftovers of a killed run removed by the next) builds the placement at the archive's
 * version, and `populate` copies every table in one transaction, compares counts and checksums,
 * and only then is the tenant activated. Any failure undoes the create.
 */
export async function importTenant(janua: Janua, input: ImportInput): Promise<ImportResult> {
  const started = Date.now()
  const file = path.resolve(input.file)
  const manifest = await verifyArchive(file, input.onEvent)
  await ensureControlPlane(janua, { create: true })
  const slug = validateSlug(input.as ?? manifest.tenant.slug)
  const taken = await janua.db
    .selectFrom('janua.tenants')
    .select(['id', 'slug', 'status'])
    .where((eb) => eb.or([eb('id', '=', manifest.tenant.id), eb('slug', '=', slug)]))
    .execute()
  const decision = decideImport(
    manifest,
    janua.templates,
    {
      // A row left 'provisioning' by a killed import is create's to remove: not taken.
      idTaken: taken.some((t) => t.id === manifest.tenant.id && t.status !== 'provisioning'),
      slugTaken: taken.some((t) => t.slug === slug && t.status !== 'provisioning'),
    },
    input,
  )
  const newId = input.newId ? randomUUID() : undefined
  const byName = new Map(manifest.tables.map((t) => [t.name, t]))
  const compared: ImportResult['tables'] = []

  const tenant = await createTenant(janua, {
    slug: decision.slug,
    name: manifest.tenant.name,
    isolation: decision.isolation,
    server: input.server,
    plan: manifest.tenant.plan ?? undefined,
    domain: manifest.tenant.domain ?? undefined,
    id: newId ?? decision.id,
    toVersion: manifest.templateVersion,
    populate: async ({ tenant, placement, version }) => {
      if (version < manifest.templateVersion) {
        throw usageError(
          `the placement ${placement.server}/${placement.database}/${placement.schema} is at template version ${version}, the archive at ${manifest.templateVersion}`,
          'run `janua tenant migrate` first, then import again',
        )
      }
      // The commercial record travels; a suspension does not (it was the source placement's): resume-state status.
      const status = manifest.tenant.commercialStatus
      await janua.db
        .updateTable('janua.tenants')
        .set({ commercial_status: status && status !== 'suspended' ? (status as CommercialStatus) : 'active', limits: JSON.stringify(manifest.tenant.limits ?? {}) })
        .where('id', '=', tenant.id)
        .execute()
      const driver = driverFor(decision.isolation as Parameters<typeof driverFor>[0])
      await driver.connect(janua, placement, (client) =>
        inTransaction(client, async () => {
          const { rows } = await client.query<{ v: string }>(`select current_setting('server_version_num') as v`)
          checkServerMajor(manifest.serverVersionNum, Number(rows[0]!.v), `server ${placement.server}`)
          await client.query(`set local timezone = 'UTC'`)
          // Replica mode: template triggers (and FKs to rows copied a table later) do not fire on restored rows.
          await client.query('set local session_replication_role = replica')
          let index = 0
          for await (const item of readArchive(file)) {
            if ('manifest' in item) break
            const table = byName.get(item.name)!
            input.onEvent?.({ type: 'copy', table: item.name, index: index++, total: manifest.tables.length })
            await copySection(client, placement.schema, item, table.columns, newId ?? null)
            faultPoint('import-copied-table')
          }
          const shapes = await tableShapes(
            client,
            placement.schema,
            manifest.tables.map((t) => t.name),
          )
          for (const t of manifest.tables) {
            const shape = shapes.get(t.name)
            if (!shape) throw usageError(`table ${t.name} of the archive does not exist in the new placement`, 'import into an installation with the same templates')
            const sum = await tableChecksum(client, placement.schema, shape, tenant.id, t.checksumColumns)
            if (sum.rows !== t.rows || sum.checksum !== t.checksum) {
              throw damaged(`table ${t.name} has ${sum.rows} rows (checksum ${sum.checksum}) after the copy, the archive says ${t.rows} (${t.checksum})`)
            }
            compared.push({ name: t.name, rows: sum.rows, checksum: sum.checksum })
          }
          await writeSequences(client, placement.schema, manifest.sequences, driver.sharesPlacement)
        }),
      )
    },
  })
  return {
    ...tenant,
    file,
    newId: newId !== undefined,
    fromTenant: { id: manifest.tenant.id, slug: manifest.tenant.slug, isolation: manifest.tenant.isolation },
    tables: compared,
    durationMs: Date.now() - started,
  }
}
