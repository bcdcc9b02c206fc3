import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { repoRoot } from './cli.js'
import type { TestDatabase } from './db.js'
import { afterAll, expect } from 'vitest'
import { JanuaError } from '../../src/core/errors.js'
import { ident } from '../../src/sql/ident.js'

/** The repository's default template folder. */
export const defaultTemplates = path.join(repoRoot, 'templates')
export const sampleRowsSql = () => fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'sample-rows.sql'), 'utf8')

const tempFolders: string[] = []
// Registered when a test file first imports this module, so it belongs to that file's root suite
// and runs after every hook of the file's own (vitest runs afterAll hooks last-registered first).
afterAll(() => {
  for (const dir of tempFolders.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

/** A new empty folder under the system temp folder, removed when the test file ends. */
export function tempFolder(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  tempFolders.push(dir)
  return dir
}

/** A temp folder of template files (name -> text), optionally starting as a copy of another folder; removed when the test file ends. */
export function templateFolder(files: Record<string, string> = {}, copyFrom?: string): string {
  const dir = tempFolder('janua-templates-')
  if (copyFrom) fs.cpSync(copyFrom, dir, { recursive: true })
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    fs.writeFileSync(path.join(dir, name), text)
  }
  return dir
}

/** A connected client on one database of the test server, as the admin user. The caller ends it. */
export async function adminClient(db: TestDatabase, database = db.name): Promise<pg.Client> {
  const client = new pg.Client({ ...db.admin, database })
  client.on('error', () => {})
  await client.connect()
  return client
}

/** The product's one quoting helper, for the SQL tests write. */
export const quoteIdent = ident

/**
 * Runs fn in a transaction as the app role, with search_path = schema and app.current_tenant =
 * tenant (both local to the transaction). The transaction commits when fn returns, else rolls back.
 */
export async function asApp<T>(client: pg.ClientBase, schema: string, tenant: string | null, fn: () => Promise<T>, appRole = 'janua_app'): Promise<T> {
  await client.query('begin')
  try {
    await client.query(`set local role ${quoteIdent(appRole)}`)
    await client.query(`select set_config('search_path', $1, true)`, [quoteIdent(schema)])
    if (tenant !== null) await client.query(`select set_config('app.current_tenant', $1, true)`, [tenant])
    const result = await fn()
    await client.query('commit')
    return result
  } catch (error) {
    // the statement's error is the one to report; a failed rollback ends with the session
    await client.query('rollback').catch(() => {})
    throw error
  }
}

/** Runs the sample-rows fixture for one tenant as the app role; returns the number of rows inserted. */
export async function insertSampleRows(client: pg.ClientBase, schema: string, tenant: string): Promise<number> {
  return asApp(client, schema, tenant, async () => {
    const { rows } = await client.query<{ rows_inserted: string | number }>(sampleRowsSql())
    return Number(rows[0]!.rows_inserted)
  })
}

/** Ordinary tables of a schema (sorted), as the admin sees them. */
export async function tablesOf(client: pg.ClientBase, schema: string): Promise<string[]> {
  const { rows } = await client.query<{ relname: string }>(
    `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p') order by c.relname`,
    [schema],
  )
  return rows.map((r) => r.relname)
}

/** Tables of a schema that have a tenant_id column (sorted). */
export async function tenantTablesOf(client: pg.ClientBase, schema: string): Promise<string[]> {
  const { rows } = await client.query<{ relname: string }>(
    `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p') and not c.relispartition
        and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
      order by c.relname`,
    [schema],
  )
  return rows.map((r) => r.relname)
}

/** The control plane id (janua.meta), or undefined before the first init. */
export async function controlPlaneId(db: TestDatabase): Promise<string | undefined> {
  return (
    db
      .query<{ value: string }>(`select value from janua.meta where key = 'id'`)
      .then((r) => r.rows[0]?.value)
      // no control plane in this database (not initialized, or already dropped): no id
      .catch(() => undefined)
  )
}

/** Databases of the server whose name is exactly janua_<cpId>_<slug>. */
export async function tenantDatabases(db: TestDatabase, cpId: string, slug: string): Promise<string[]> {
  const { rows } = await db.query<{ datname: string }>(`select datname from pg_database where datname = $1`, [`janua_${cpId}_${slug}`])
  return rows.map((r) => r.datname)
}

/** Every database of this control plane except its template and shared databases ("__" names). */
export async function controlPlaneTenantDatabases(db: TestDatabase, cpId: string): Promise<string[]> {
  const { rows } = await db.query<{ datname: string }>(`select datname from pg_database where datname like $1 and datname not like $2 order by datname`, [
    `janua\\_${cpId}\\_%`,
    `janua\\_${cpId}\\_\\_%`,
  ])
  return rows.map((r) => r.datname)
}

/** Lines of a stack trace ("    at fn (file:1:2)"). */
export const stackLines = (text: string) => text.split('\n').filter((l) => /^\s+at\s/.test(l))

export const ANSI = /\u001b\[[0-9;]*[A-Za-z]/

/** Lines of stderr that are not Node's own warnings (e.g. oclif's UnparsedCommand warning when NODE_ENV=test). */
export const ownLines = (text: string) => text.split('\n').filter((l) => l.trim() !== '' && !/^\(node:\d+\)/.test(l) && !l.startsWith('(Use `node'))

/** Maps with at most `limit` calls in flight (CLI runs are CPU-bound: a few at a time). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i]!, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/** Runs fn and returns the JanuaError it throws (fails the test when it throws nothing or something else). */
export function januaErrorOf(fn: () => unknown): JanuaError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(JanuaError)
    return error as JanuaError
  }
  throw new Error('expected a JanuaError, nothing was thrown')
}
