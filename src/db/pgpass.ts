import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { usageError } from './errors.js'
import { rememberSecret } from './redact.js'

/**
 * A connection string without a password takes it, as libpq does, from PGPASSWORD or the password
 * file (PGPASSFILE, else ~/.pgpass). Read here rather than by node-postgres, whose own lookup
 * prints a deprecation warning on stderr. Only called when the server asks for a password.
 */
export function passwordFromEnvironment(target: { host?: string; port?: number; database?: string; user?: string }): string | undefined {
  if (process.env.PGPASSWORD !== undefined) {
    rememberSecret(process.env.PGPASSWORD)
    return process.env.PGPASSWORD
  }
  const file = process.env.PGPASSFILE || path.join(os.homedir(), '.pgpass')
  let stat: fs.Stats
  try {
    stat = fs.statSync(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined // no password file: libpq goes on without one too
    throw usageError(`the password file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'fix its permissions, or point PGPASSFILE at another file')
  }
  if (!stat.isFile()) throw usageError(`the password file ${file} is not a plain file`, 'point PGPASSFILE at a file, or remove it')
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    throw usageError(`the password file ${file} may be read by others (mode ${(stat.mode & 0o777).toString(8)})`, `chmod 600 ${file}`)
  }
  const wanted = [target.host ?? 'localhost', String(target.port ?? 5432), target.database ?? target.user ?? '', target.user ?? os.userInfo().username]
  for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    if (line.trim() === '' || line.startsWith('#')) continue
    const fields: string[] = ['']
    for (let i = 0; i < line.length; i++) {
      if (line[i] === '\\' && i + 1 < line.length) fields[fields.length - 1] += line[++i]
      else if (line[i] === ':' && fields.length < 5) fields.push('')
      else fields[fields.length - 1] += line[i]
    }
    if (fields.length < 5) continue
    if (wanted.every((value, i) => fields[i] === '*' || fields[i] === value)) {
      rememberSecret(fields[4])
      return fields[4]
    }
  }
  return undefined
}
