import type pg from 'pg'
import { ExitCode, JanuaError } from './errors.js'
import { splitStatements } from './statements.js'
import { checkApplied, lineAndColumn, type AppliedFile, type TemplateFile, type TemplateSet } from './templates.js'
import { ident, literal } from '../sql/ident.js'
import { isPgError, isUnreachable, translateError } from '../db/errors.js'
import { withAdvisoryLock, type LockWait } from '../db/locks.js'
import { redactAll } from '../db/redact.js'
import { rollbackQuietly } from '../db/connection.js'

export { HISTORY_TABLE } from '../sql/names.js'
import { EXTENSIONS_SCHEMA, HISTORY_TABLE, historyVersionComment } from '../sql/names.js'

export const placementLockKey = (schema: string) => `janua:placement:${schema}`

export { EXTENSIONS_SCHEMA } from '../sql/names.js'
/** The search_path templates and seeds run with. */
export const placementSearchPath = (schema: string) => `${ident(schema)}, ${EXTENSIONS_SCHEMA}`

/** Extensions a template file creates: `create extension [if not exists] name`. */
export function extensionsIn(sql: string): string[] {
  const code = sql.replace(/--[^\n]*/g, '')
  const names = [...code.matchAll(/\bcreate\s+extension\s+(?:if\s+not\s+exists\s+)?("(?:[^"]|"")+"|[a-z_][a-z0-9_$-]*)/gi)].map((m) =>
    m[1]!.startsWith('"') ? m[1]!.slice(1, -1).replaceAll('""', '"') : m[1]!.toLowerCase(),
  )
  return [...new Set(names)]
}

/**
 * The extensions schema (usable by the app role when one is given) and the named extensions in
 * it, so a file's own `create extension if not exists` finds them. Checked first; created under a
 * transaction-level advisory lock, as concurrent placements would otherwise race on the catalog.
 */
export async function ensureExtensions(client: pg.ClientBase, names: string[], appRole?: string): Promise<void> {
  const { rows } = await client.query<{ schema: boolean; usage: boolean; missing: string[] }>(
    `select exists (select 1 from pg_namespace where nspname = $1) as schema,
            coalesce((select has_schema_privilege($2, n.oid, 'USAGE') from pg_namespace n where n.nspname = $1), false) as usage,
            array(select n from unnest($3::text[]) n where not exists (select 1 from pg_extension where extname = n)) as missing`,
    [EXTENSIONS_SCHEMA, appRole ?? 'public', names],
  )
  const state = rows[0]!
  if (state.schema && (state.usage || !appRole) && state.missing.length === 0) return
  await client.query(`select pg_advisory_xact_lock(hashtext('janua:extensions'))`)
  await client.query(`create schema if not exists ${EXTENSIONS_SCHEMA}`)
  if (appRole && !state.usage) await client.query(`grant usage on schema ${EXTENSIONS_SCHEMA} to ${ident(appRole)}`)
  for (const name of state.missing) await client.query(`create extension if not exists ${ident(name)} with schema ${EXTENSIONS_SCHEMA}`)
}

export async function ensureHistoryTable(client: pg.ClientBase, schema: string): Promise<void> {
  await client.query(`create table if not exists ${ident(schema)}.${ident(HISTORY_TABLE)} (
    version integer primary key,
    file text not null unique,
    sha256 text not null,
    applied_at timestamptz not null default now(),
    duration_ms integer not null,
    no_transaction boolean not null default false
  )`)
  // The history is janua's, not the application's.
  await client.query(`revoke all on ${ident(schema)}.${ident(HISTORY_TABLE)} from public`)
}

export async function readApplied(client: pg.ClientBase, schema: string): Promise<AppliedFile[]> {
  const { rows: exists } = await client.query<{ t: string | null }>('select to_regclass($1) as t', [`${ident(schema)}.${ident(HISTORY_TABLE)}`])
  if (!exists[0]?.t) return []
  const { rows } = await client.query<AppliedFile>(`select version, file, sha256 from ${ident(schema)}.${ident(HISTORY_TABLE)} order by version`)
  return rows
}

/**
 * readApplied in one query instead of two, for applyPending (which never runs inside a
 * transaction, so a missing table costs no aborted transaction): undefined when there is none.
 */
async function readHistoryIfAny(client: pg.ClientBase, schema: string): Promise<AppliedFile[] | undefined> {
  try {
    const { rows } = await client.query<AppliedFile>(`select version, file, sha256 from ${ident(schema)}.${ident(HISTORY_TABLE)} order by version`)
    return rows
  } catch (error) {
    if (isPgError(error) && (error.code === '42P01' || error.code === '3F000')) return undefined
    throw error
  }
}

export const versionOf = (applied: AppliedFile[]) => applied.reduce((max, row) => Math.max(max, row.version), 0)

/** A failing file names the file, line and column, and keeps the database error. */
export function templateError(file: TemplateFile, error: unknown, where: string, statementPosition?: number): JanuaError {
  if (error instanceof JanuaError) return error
  if (isUnreachable(error)) return translateError(error, where)
  const message = redactAll(error instanceof Error ? error.message : String(error))
  let location = file.name
  let line: number | undefined
  let column: number | undefined
  const position = isPgError(error) && error.position ? Number(error.position) : statementPosition
  if (position) {
    ;({ line, column } = lineAndColumn(file.sql, position))
    location = `${file.name}:${line}:${column}`
  }
  const sqlstate = isPgError(error) ? error.code : undefined
  return new JanuaError(
    `${where}: ${location}: ${message}`,
    ExitCode.failed,
    `fix ${file.name} (or the placement), then run the command again: applied files are skipped`,
    'template_failed',
    { file: file.name, line, column, sqlstate, error: message },
  )
}

/**
 * A file's history row, and the placement's version as the history table's comment (`janua
 * version N`, what versionInComment reads): verify reads every placement's version from
 * pg_description instead of opening thousands of history tables (docs/design.md, Verify). In the
 * caller's transaction (inTransaction) or as one of its own.
 */
function recordSql(schema: string, file: TemplateFile, durationMs: string, inTransaction: boolean): string {
  const table = `${ident(schema)}.${ident(HISTORY_TABLE)}`
  const text = `insert into ${table} (version, file, sha256, duration_ms, no_transaction)
    values (${file.version}, ${literal(file.name)}, ${literal(file.sha256)}, ${durationMs}, ${file.noTransaction});
comment on table ${table} is ${literal(historyVersionComment(file.version))}`
  return inTransaction ? text : `begin;\n${text};\ncommit`
}

/**
 * Runs one file with search_path set to the placement's schema. ownTransaction false: the caller
 * already holds a transaction (tenant creation builds a schema in one).
 */
export async function applyFile(client: pg.ClientBase, schema: string, file: TemplateFile, where: string, ownTransaction = true): Promise<void> {
  const started = Date.now()
  // After a no-transaction file the row and the comment are one transaction of their own.
  const record = async () => client.query(recordSql(schema, file, String(Date.now() - started), !file.noTransaction))
  const extensions = extensionsIn(file.sql)
  try {
    if (file.noTransaction) {
      if (!ownTransaction) throw new JanuaError(`${file.name} must run outside a transaction`, ExitCode.failed)
      if (extensions.length) await ensureExtensions(client, extensions)
      await client.query(`select set_config('search_path', $1, false)`, [placementSearchPath(schema)])
      try {
        await client.query(file.sql)
      } finally {
        // The session goes back to its pool: its search_path must not outlive the file. A reset
        // that fails means the session is broken, and the pool drops it with the file's error.
        await client.query(`select set_config('search_path', 'public', false)`).catch(() => undefined)
      }
      // Recorded only after it succeeded.
      try {
        await record()
      } catch (error) {
        // The record's own transaction stopped at the error: end it (a broken connection is dropped by its pool).
        await rollbackQuietly(client)
        throw error
      }
      return
    }
    if (ownTransaction) {
      await applyInOwnTransaction(client, schema, file, extensions)
      return
    }
    if (extensions.length) await ensureExtensions(client, extensions)
    await client.query(`select set_config('search_path', $1, true)`, [placementSearchPath(schema)])
    await client.query(file.sql)
    await record()
  } catch (error) {
    if (ownTransaction && !file.noTransaction && isPgError(error) && !error.position && !isUnreachable(error)) {
      throw templateError(file, error, where, await locateFailure(client, schema, file))
    }
    throw templateError(file, error, where)
  }
}

/**
 * A file in its own transaction in two round trips instead of five, per placement of a fleet run
 * (issue 9 item 6): begin and search_path, then the file with its history row and commit as one
 * simple-protocol query. The file must start that query: the server records character offsets
 * into the query text in stored expressions (defaults, constraints, policies), and verify's
 * fingerprints compare them with the expected catalog, built from the file alone.
 */
async function applyInOwnTransaction(client: pg.ClientBase, schema: string, file: TemplateFile, extensions: string[]): Promise<void> {
  await client.query(`begin; select set_config('search_path', ${literal(placementSearchPath(schema))}, true)`)
  // The file may end without a semicolon or in a comment: the history row starts on a line of its own.
  const record = `\n;\n${recordSql(schema, file, '(extract(epoch from clock_timestamp() - now()) * 1000)::int', true)};\ncommit;`
  try {
    // Only a file that names an extension pays for the check (one more round trip).
    if (extensions.length) await ensureExtensions(client, extensions)
    await client.query(file.sql + record)
  } catch (error) {
    // The server stopped at the failing statement, inside the transaction: end it (on a broken
    // connection there is nothing to end, and the pool discards the client).
    await rollbackQuietly(client)
    // A position past the file points into the history row: no line of the file to name.
    if (isPgError(error) && error.position && Number(error.position) > file.sql.length) error.position = undefined
    throw error
  }
}

/**
 * The server gives no position for errors raised while executing: replay the file statement by
 * statement in a transaction that is rolled back, under the placement lock the caller holds, and
 * report where the first statement fails. Costs nothing unless a file failed.
 */
async function locateFailure(client: pg.ClientBase, schema: string, file: TemplateFile): Promise<number | undefined> {
  try {
    await client.query('begin')
    await client.query(`select set_config('search_path', $1, true)`, [placementSearchPath(schema)])
    for (const statement of splitStatements(file.sql)) {
      try {
        await client.query(statement.text)
      } catch {
        // The error itself is the caller's (it already holds it): only where it happens is wanted.
        return statement.offset + 1
      }
    }
    return undefined
  } catch {
    // The replay is a best effort to name a line; the file's own error is reported either way.
    return undefined
  } finally {
    await rollbackQuietly(client)
  }
}

export interface ApplyResult {
  applied: string[]
  fromVersion: number
  version: number
}

/**
 * Brings one placement to `toVersion` (default: newest) under the placement's advisory lock.
 * Checksums of applied files are checked first: an edited file is refused before anything runs.
 */
export async function applyPending(
  client: pg.ClientBase,
  schema: string,
  set: TemplateSet,
  options: LockWait & { toVersion?: number; where: string; onFile?: (file: TemplateFile) => void },
): Promise<ApplyResult> {
  return withAdvisoryLock(client, placementLockKey(schema), { lockTimeoutMs: options.lockTimeoutMs, onWait: options.onWait, what: options.where }, async () => {
    const applied = (await readHistoryIfAny(client, schema)) ?? []
    if (applied.length === 0) await ensureHistoryTable(client, schema)
    checkApplied(set, applied, options.where)
    const fromVersion = versionOf(applied)
    const done = new Set(applied.map((a) => a.file))
    const target = options.toVersion ?? set.latest
    const pending = set.files.filter((f) => !done.has(f.name) && f.version <= target)
    const names: string[] = []
    for (const file of pending) {
      if (file.version < fromVersion) {
        throw new JanuaError(
          `${options.where}: ${file.name} is older than the placement's version ${fromVersion} but was never applied there`,
          ExitCode.checksum,
          `new template files must be numbered after the newest applied one (${fromVersion}); renumber ${file.name}`,
        )
      }
      options.onFile?.(file)
      try {
        await applyFile(client, schema, file, options.where)
      } catch (error) {
        // What did land before the failure is reported too (the fleet run records the version).
        if (error instanceof JanuaError && names.length) {
          throw new JanuaError(error.message, error.exitCode, error.hint, error.code, { ...error.details, applied: names, version: pending[names.length - 1]!.version })
        }
        throw error
      }
      names.push(file.name)
    }
    return { applied: names, fromVersion, version: names.length ? pending.at(-1)!.version : fromVersion }
  })
}

/** Per-tenant seed files, inside the caller's transaction, with the tenant in settings. */
export async function runSeeds(client: pg.ClientBase, schema: string, set: TemplateSet, tenant: { id: string; slug: string; name: string }, where: string): Promise<void> {
  await client.query(
    `select set_config('search_path', $1, true), set_config('janua.tenant_id', $2, true), set_config('janua.tenant_slug', $3, true),
            set_config('janua.tenant_name', $4, true), set_config('app.current_tenant', $2, true)`,
    [placementSearchPath(schema), tenant.id, tenant.slug, tenant.name],
  )
  for (const seed of set.seeds) {
    try {
      await client.query(seed.sql)
    } catch (error) {
      throw templateError({ ...seed, name: `seed/${seed.name}` }, error, where)
    }
  }
}
