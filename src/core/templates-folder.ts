import { sql } from 'kysely'
import { ident } from '../sql/ident.js'
import { HISTORY_TABLE } from '../sql/names.js'
import { describeSource, type TemplatesSource } from './config.js'
import type { Janua } from './context.js'
import { ExitCode, JanuaError } from './errors.js'

/** What the fleet has applied, as the control plane (and the placements on the primary database) tell it. */
export interface FleetTemplatesFacts {
  /** the newest version recorded for any placement */
  newestVersion: number
  /** applied files of the newest placement janua can read on the primary database (empty when none) */
  applied: { version: number; file: string }[]
}

export interface FolderFacts {
  dir: string
  source: string
  files: { version: number; name: string }[]
  latest: number
}

export const TEMPLATES_MISMATCH = 'templates_mismatch'

/**
 * Whether the templates folder can be the one the fleet was migrated with: every applied file is
 * in it (same version and name), and its newest version is not below the fleet's. Pure: the facts
 * are gathered by checkTemplatesFolder.
 */
export function judgeTemplatesFolder(folder: FolderFacts, fleet: FleetTemplatesFacts): JanuaError | undefined {
  const inFolder = new Set(folder.files.map((f) => `${f.version}/${f.name}`))
  const missing = fleet.applied.filter((a) => !inFolder.has(`${a.version}/${a.file}`))
  if (!missing.length && fleet.newestVersion <= folder.latest) return undefined
  const newest = fleet.applied.reduce<{ version: number; file: string } | undefined>((best, a) => (!best || a.version > best.version ? a : best), undefined)
  const newestText = newest && newest.version >= fleet.newestVersion ? `${newest.file} (version ${newest.version})` : `version ${fleet.newestVersion}`
  const why = missing.length
    ? `the fleet has applied ${missing.length} file(s) it lacks, e.g. ${missing[missing.length - 1]!.file}`
    : `its newest file is version ${folder.latest}, below the fleet's`
  return new JanuaError(
    `templates folder ${folder.dir} (from ${folder.source}) does not match the fleet: ${why}; newest applied: ${newestText}`,
    ExitCode.usage,
    'use the folder the fleet was migrated with: --templates <dir>, JANUA_TEMPLATES, or "templates" in janua.config.json',
    TEMPLATES_MISMATCH,
    { templates: folder.dir, templatesSource: folder.source, newestApplied: newest?.file ?? null, newestVersion: fleet.newestVersion },
  )
}

/**
 * Refuses (exit 2) a templates folder that does not match the fleet, before a command uses it:
 * two small reads of the primary database, nothing when there is no control plane yet.
 */
export async function checkTemplatesFolder(janua: Janua): Promise<void> {
  const facts = await readFleetTemplates(janua)
  if (!facts) return
  const set = janua.templates
  const source: TemplatesSource = janua.settings.templatesSource
  const failure = judgeTemplatesFolder({ dir: set.dir, source: describeSource(janua.settings, source), files: set.files, latest: set.latest }, facts)
  if (failure) throw failure
}

async function readFleetTemplates(janua: Janua): Promise<FleetTemplatesFacts | undefined> {
  const { rows: present } = await sql<{ t: string | null }>`select to_regclass('janua.placements')::text as t`.execute(janua.db)
  if (!present[0]?.t) return undefined
  // The newest placement on this database (shared or schema placements): its history names the files.
  const { rows } = await sql<{ newest: number | null; schema: string | null }>`
    select (select max(version) from janua.placements) as newest,
           (select schema from janua.placements where database = current_database() and server = 'primary'
             order by version desc, (kind = 'shared') desc limit 1) as schema`.execute(janua.db)
  const newestVersion = Number(rows[0]?.newest ?? 0)
  const schema = rows[0]?.schema
  let applied: { version: number; file: string }[] = []
  if (schema) {
    const { rows: table } = await sql<{ t: string | null }>`select to_regclass(${`${ident(schema)}.${ident(HISTORY_TABLE)}`})::text as t`.execute(janua.db)
    if (table[0]?.t) {
      const result = await sql<{ version: number; file: string }>`select version, file from ${sql.raw(`${ident(schema)}.${ident(HISTORY_TABLE)}`)} order by version`.execute(
        janua.db,
      )
      applied = result.rows.map((r) => ({ version: Number(r.version), file: r.file }))
    }
  }
  return { newestVersion, applied }
}
