// Helpers shared by the benchmarks: the bench server, a throw-away database with guaranteed
// cleanup, a private copy of templates/, a fleet built through the core API, subprocesses, output.
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres'

/** The server under test: JANUA_BENCH_DATABASE_URL, else the local PostgreSQL. */
export const serverUrl = () => process.env.JANUA_BENCH_DATABASE_URL?.trim() || DEFAULT_SERVER_URL

export function withDatabase(url, database) {
  const u = new URL(url)
  u.pathname = `/${encodeURIComponent(database)}`
  return u.toString()
}

/** A URL with its password hidden, for printing. */
export function redactUrl(url) {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(url)'
  }
}

export async function query(url, text, values) {
  const client = new pg.Client({ connectionString: url, application_name: 'janua-bench' })
  await client.connect()
  try {
    return await client.query(text, values)
  } finally {
    // the query's result (or error) is what matters; a failing close of its one-off connection changes neither
    await client.end().catch(() => {})
  }
}

export const qi = (name) => `"${String(name).replaceAll('"', '""')}"`
export const ql = (text) => `'${String(text).replaceAll("'", "''")}'`

export function intEnv(name, fallback, min = 0) {
  const raw = process.env[name]?.trim()
  if (!raw) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`)
  return n
}

export const now = () => performance.now()
export const round = (ms, digits = 1) => Number(ms.toFixed(digits))
export const fmtS = (ms) => `${(ms / 1000).toFixed(2)} s`
export const fmtMs = (ms) => `${ms.toFixed(1)} ms`
export const log = (...parts) => console.error('[bench]', ...parts)

/** dist/ is what the benchmarks measure; build it only when it is missing. */
export function ensureBuilt() {
  if (fs.existsSync(path.join(repoRoot, 'dist', 'core', 'context.js')) && fs.existsSync(path.join(repoRoot, 'dist', 'commands'))) return
  log('dist/ is missing: npm run build')
  const r = spawnSync('npm', ['run', 'build'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] })
  if (r.status !== 0) throw new Error('npm run build failed')
}

/** Runs fn over items, `limit` at a time; the first error stops new items and is rethrown. */
export async function inParallel(items, limit, fn) {
  let next = 0
  let failure
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
      while (next < items.length && !failure) {
        const index = next++
        try {
          await fn(items[index], index)
        } catch (error) {
          failure ??= error
        }
      }
    }),
  )
  if (failure) throw failure
}

/** Runs a command; resolves with its exit code, output and wall time (never rejects on exit != 0). */
export function runProcess(command, args, { env = process.env, cwd = repoRoot, input } = {}) {
  return new Promise((resolve, reject) => {
    const started = now()
    const child = spawn(command, args, { env, cwd, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    const out = []
    const err = []
    child.stdout.on('data', (d) => out.push(d))
    child.stderr.on('data', (d) => err.push(d))
    child.on('error', reject)
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 1),
        signal,
        ms: now() - started,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    )
    if (input !== undefined) child.stdin.end(input)
  })
}

// --- cleanup, also on failure and on Ctrl-C -----------------------------------------------------

const cleanups = []
let cleaning
export function onCleanup(fn) {
  cleanups.push(fn)
}
export async function runCleanups() {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const fn = cleanups.pop()
      try {
        await fn()
      } catch (error) {
        log(`cleanup step failed: ${error?.message ?? error}`)
      }
    }
  })()
  return cleaning
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`)
    runCleanups().finally(() => process.exit(130))
  })
}

/**
 * A fresh database janua_bench_<label>_<hex> on the bench server. drop() removes it and every
 * database its control plane created (janua_<cpid>_%): tenant databases and the template database.
 */
export async function createBenchDatabase(label) {
  const server = serverUrl()
  const name = `janua_bench_${label}_${randomBytes(4).toString('hex')}`
  await query(server, `create database ${qi(name)}`)
  const url = withDatabase(server, name)
  let dropped
  const drop = async () => {
    dropped ??= (async () => {
      const cpId = await query(url, `select value from janua.meta where key = 'id'`)
        .then((r) => r.rows[0]?.value)
        // no control plane in this database (a build that failed early): no tenant databases to drop
        .catch(() => undefined)
      const databases = cpId
        ? (await query(server, 'select datname from pg_database where datname like $1 order by datname', [`janua\\_${cpId}\\_%`])).rows.map((r) => r.datname)
        : []
      log(`dropping ${databases.length + 1} database(s): ${name} and the ${databases.length} its control plane created`)
      const started = now()
      for (const db of [...databases, name]) await query(server, `drop database if exists ${qi(db)} with (force)`)
      // the tenant login roles' group of the control plane (src/core/tenant-access.ts) is server-wide: it outlives the databases
      if (cpId) await query(server, `drop role if exists ${qi(`janua_${cpId}_tenants`)}`)
      log(`dropped in ${fmtS(now() - started)}`)
      return { cpId, databases: [...databases, name] }
    })()
    return dropped
  }
  onCleanup(drop)
  return { name, url, server, drop }
}

/** A temp folder (removed at cleanup) holding a private copy of templates/. */
export function benchWorkspace() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-bench-'))
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }))
  const templatesDir = path.join(dir, 'templates')
  fs.cpSync(path.join(repoRoot, 'templates'), templatesDir, { recursive: true })
  return { dir, templatesDir }
}

/** Opens the core API (dist/) on a database with a template folder. */
export async function openJanua(url, templatesDir, cwd) {
  const { Janua } = await import('../../dist/core/context.js')
  return Janua.open({ databaseUrl: url, templates: templatesDir, cwd })
}

/**
 * Builds a fleet through the core API: db init, then `schemas` schema tenants (s0001...) and
 * `databases` database tenants (d001...), `parallelism` creates at a time. Returns timings.
 */
export async function buildFleet({ url, templatesDir, cwd, schemas, databases, parallelism }) {
  const { initDb } = await import('../../dist/core/control-plane.js')
  const { createTenant } = await import('../../dist/core/tenants.js')
  const janua = await openJanua(url, templatesDir, cwd)
  try {
    const init = await initDb(janua)
    const width = String(Math.max(schemas, databases, 1)).length
    const create = async (prefix, count, isolation) => {
      const specs = Array.from({ length: count }, (_, i) => ({ slug: `${prefix}${String(i + 1).padStart(width, '0')}`, isolation }))
      const started = now()
      let done = 0
      await inParallel(specs, parallelism, async (spec) => {
        await createTenant(janua, spec)
        if (++done % 100 === 0 || done === count) log(`${isolation} tenants: ${done}/${count} (${fmtS(now() - started)})`)
      })
      const ms = now() - started
      return { count, ms, perTenantMs: count ? ms / count : 0, slugs: specs.map((s) => s.slug) }
    }
    const schemaTenants = await create('s', schemas, 'schema')
    const databaseTenants = await create('d', databases, 'database')
    return { cpId: init.controlPlane.id, appRole: janua.appRole, templateVersion: janua.templates.latest, schemaTenants, databaseTenants }
  } finally {
    await janua.close()
  }
}

/** A plain text table; align: one 'l' or 'r' per column (default: first left, the rest right). */
export function table(headers, rows, align) {
  const cells = [headers, ...rows].map((r) => r.map((c) => String(c ?? '')))
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)))
  const left = (i) => (align ? align[i] === 'l' : i === 0)
  const line = (r) =>
    r
      .map((c, i) => (left(i) ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n')
}
