import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { ExitCode, JanuaError, usageError } from './errors.js'
import { MAX_VERSION } from './validate.js'
import { quoted } from '../sql/ident.js'

export interface TemplateFile {
  /** integer prefix: 0004_billing.sql -> 4 */
  version: number
  /** file name, e.g. 0004_billing.sql */
  name: string
  path: string
  sql: string
  sha256: string
  /** marked by a `-- janua:no-transaction` header comment */
  noTransaction: boolean
}

export interface TemplateSet {
  dir: string
  files: TemplateFile[]
  seeds: TemplateFile[]
  /** version of the newest file, 0 when the folder is empty */
  latest: number
}

const FILE_PATTERN = /^(\d{4,})_([a-z0-9_]+)\.sql$/
export const NO_TRANSACTION_HEADER = /^\s*--\s*janua:no-transaction\b/m

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/** Header comments are the leading lines that are blank or start with `--`. */
export function headerOf(sql: string): string {
  const lines = sql.split('\n')
  const header: string[] = []
  for (const line of lines) {
    if (line.trim() === '' || line.trim().startsWith('--')) header.push(line)
    else break
  }
  return header.join('\n')
}

export function parseTemplateFile(name: string, filePath: string, sql: string): TemplateFile {
  const match = FILE_PATTERN.exec(name)
  if (!match)
    throw usageError(`template file name ${quoted(name)} does not match NNNN_name.sql`, 'rename it, e.g. 0005_add_invoices.sql (digits, "_", lowercase letters, digits and "_")')
  const version = Number(match[1])
  if (version < 1 || version > MAX_VERSION) {
    throw usageError(
      `template file ${quoted(name)}: version ${match[1]} is out of range`,
      `number template files from 1 to ${MAX_VERSION} (versions are stored as PostgreSQL integers)`,
    )
  }
  return {
    version,
    name,
    path: filePath,
    sql,
    sha256: sha256(sql),
    noTransaction: NO_TRANSACTION_HEADER.test(headerOf(sql)),
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** A template's text: valid UTF-8 without NUL bytes, else refused naming the file (never applied mangled). */
export function decodeTemplate(filePath: string, bytes: Uint8Array): string {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch (error) {
    throw usageError(`template file ${filePath} is not valid UTF-8`, `convert it, e.g. iconv -f latin1 -t utf-8 ${path.basename(filePath)}`, error)
  }
  if (text.includes('\0')) throw usageError(`template file ${filePath} contains a NUL byte`, 'remove it: PostgreSQL cannot take NUL characters in SQL text')
  return text
}

/**
 * The .sql entries of a folder. A symlink is followed (shared files are a common layout); one that
 * is dangling, or any .sql entry that is not a regular file, is refused: never silently skipped.
 */
function readFolder(dir: string): TemplateFile[] {
  const files: TemplateFile[] = []
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.name.endsWith('.sql')) continue
    const filePath = path.join(dir, entry.name)
    let isFile = entry.isFile()
    if (entry.isSymbolicLink()) {
      try {
        isFile = fs.statSync(filePath).isFile()
      } catch (error) {
        throw usageError(
          `template ${filePath} is a symlink to ${fs.readlinkSync(filePath)}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
          'fix or remove the link',
        )
      }
    }
    if (!isFile) throw usageError(`template ${filePath} is not a regular file`, 'template entries ending in .sql must be files (or symlinks to files)')
    files.push(parseTemplateFile(entry.name, filePath, decodeTemplate(filePath, fs.readFileSync(filePath))))
  }
  files.sort((a, b) => a.version - b.version || a.name.localeCompare(b.name))
  for (let i = 1; i < files.length; i++) {
    if (files[i]!.version === files[i - 1]!.version) {
      throw usageError(`two template files share version ${files[i]!.version}: ${files[i - 1]!.name} and ${files[i]!.name}`, 'give each file its own number')
    }
  }
  return files
}

/** seed/ is optional; a seed entry that is a file, or a link to nothing, is refused rather than ignored. */
function seedFolderExists(seedDir: string): boolean {
  try {
    fs.lstatSync(seedDir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
  let isDir = false
  try {
    isDir = fs.statSync(seedDir).isDirectory()
  } catch (error) {
    throw usageError(`${seedDir} is a symlink that cannot be followed (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'fix or remove the link')
  }
  if (!isDir) throw usageError(`${seedDir} is not a folder`, 'seed files go in a folder named seed next to the template files')
  return true
}

export function loadTemplates(dir: string): TemplateSet {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw usageError(`template folder ${dir} does not exist`, 'pass --templates <dir>, set JANUA_TEMPLATES, or "templates" in janua.config.json')
  }
  const files = readFolder(dir)
  if (files.length === 0) throw usageError(`template folder ${dir} has no NNNN_name.sql files`, 'add at least one template file')
  const seedDir = path.join(dir, 'seed')
  const seeds = seedFolderExists(seedDir) ? readFolder(seedDir) : []
  for (const seed of seeds) {
    if (seed.noTransaction) throw usageError(`seed file ${seed.name} is marked no-transaction`, 'seed files always run inside the tenant-creation transaction; remove the header')
  }
  return { dir, files, seeds, latest: files.at(-1)!.version }
}

/** Files up to a version (inclusive). */
export const filesUpTo = (set: TemplateSet, version: number) => set.files.filter((f) => f.version <= version)

export interface AppliedFile {
  version: number
  file: string
  sha256: string
}

/**
 * Refuses a placement whose history disagrees with the folder: an applied file edited
 * (exit 6, naming the file) or removed from the folder.
 */
export function checkApplied(set: TemplateSet, applied: AppliedFile[], where: string): void {
  const byName = new Map(set.files.map((f) => [f.name, f]))
  for (const row of applied) {
    const file = byName.get(row.file)
    if (!file) {
      throw new JanuaError(
        `${where}: applied template ${row.file} is missing from ${set.dir}`,
        ExitCode.checksum,
        'applied files are immutable: restore the file as it was, or point --templates at the right folder',
      )
    }
    if (file.sha256 !== row.sha256) {
      throw new JanuaError(
        `template ${row.file} was edited after it was applied (${where}: sha256 ${row.sha256.slice(0, 12)}, file now ${file.sha256.slice(0, 12)})`,
        ExitCode.checksum,
        `applied files are immutable: restore ${row.file} and put the change in a new file numbered after ${set.files.at(-1)!.name}`,
      )
    }
  }
}

/** 1-based line and column of a 1-based character position in a text (pg error.position). */
export function lineAndColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, position - 1))
  const lines = before.split('\n')
  return { line: lines.length, column: lines.at(-1)!.length + 1 }
}
