import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'

/**
 * A private PostgreSQL cluster whose TCP connections need a password (scram-sha-256): the shared
 * test server trusts every local connection, so no password test can pass or fail on it. The
 * superuser's password is random; the cluster is stopped and deleted by stop().
 */
export interface ScramCluster {
  port: number
  password: string
  url(database?: string): string
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[], database?: string): Promise<pg.QueryResult<R>>
  /** the server's log (every statement: log_statement = all) */
  log(): string
  stop(): void
}

function binDir(): string {
  const root = '/usr/lib/postgresql'
  const majors = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : []
  for (const m of majors) if (existsSync(path.join(root, m, 'bin', 'initdb'))) return path.join(root, m, 'bin')
  const which = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' })
  if (which.status === 0) return which.stdout.trim()
  throw new Error('no PostgreSQL binaries (initdb) found')
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })
}

export async function startScramCluster(): Promise<ScramCluster> {
  const bin = binDir()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'janua-scram-'))
  const data = path.join(dir, 'data')
  const password = randomBytes(12).toString('hex')
  const port = await freePort()
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  const pwfile = path.join(dir, 'pw')
  writeFileSync(pwfile, `${password}\n`)
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    chownSync(dir, uid, gid)
    chownSync(pwfile, uid, gid)
    chmodSync(dir, 0o700)
  }
  const run = (cmd: string, args: string[]) => execFileSync(root ? 'runuser' : cmd, root ? ['-u', 'postgres', '--', cmd, ...args] : args, { stdio: 'pipe' })
  run(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', `--pwfile=${pwfile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-sync'])
  run(path.join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-l',
    path.join(dir, 'log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c shared_buffers=16MB -c max_connections=60 -c fsync=off -c log_statement=all`,
    'start',
  ])
  const url = (database = 'postgres') => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`
  return {
    port,
    password,
    url,
    async query(text, values, database = 'postgres') {
      const client = new pg.Client({ connectionString: url(database) })
      await client.connect()
      try {
        return await client.query(text, values)
      } finally {
        await client.end()
      }
    },
    log: () => readFileSync(path.join(dir, 'log'), 'utf8'),
    stop() {
      try {
        run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop'])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}
