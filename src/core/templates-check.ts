import path from 'node:path'
import type pg from 'pg'
import { LINT_RULES, type Finding } from '../catalog/findings.js'
import type { Catalog } from '../catalog/snapshot.js'
import { withClient } from '../db/connection.js'
import { redactAll } from '../db/redact.js'
import type { IsolationLevel } from '../db/schema.js'
import { readApplied } from './apply.js'
import type { Janua } from './context.js'
import { JanuaError } from './errors.js'
import { SHARED_SCHEMA } from './placement.js'
import { splitStatements } from './statements.js'
import { NO_TRANSACTION_HEADER, headerOf, lineAndColumn, type AppliedFile, type TemplateFile, type TemplateSet } from './templates.js'
import { scratchCatalog } from './verify.js'

/**
 * `janua templates check`: the folder applied to a scratch schema in a rolled-back transaction,
 * the isolation lint `db verify` runs on placements (with the file and line that made each
 * object), the levels the folder supports, and the files `tenant migrate` would refuse.
 */
export const TEMPLATE_CHECK_CODES = {
  'template/apply-failed': 'a file fails when applied to an empty schema',
  'template/checksum-changed': 'a file applied to the shared placement was edited since',
  'template/applied-missing': 'a file applied to the shared placement is no longer in the folder',
  'template/out-of-order': "a new file is numbered below the shared placement's version",
  'template/needs-no-transaction': 'a statement cannot run in a transaction but the file has no `-- janua:no-transaction` header',
  'template/transaction-control': 'a file runs BEGIN/COMMIT/ROLLBACK itself (janua runs each file in its own transaction)',
  'template/misplaced-header': 'a `-- janua:no-transaction` marker below the first statement is ignored',
  ...LINT_RULES,
} as const

export interface TemplateFinding {
  code: string
  message: string
  /** the template file, relative to the folder's parent as given */
  file?: string
  line?: number
  object?: string
}

export interface LevelSupport {
  level: IsolationLevel
  supported: boolean
  reason?: string
}

export interface TemplateCheckReport {
  ok: boolean
  dir: string
  files: number
  latest: number
  levels: LevelSupport[]
  /** tables without tenant_id: shared by every tenant of a shared placement */
  referenceTables: string[]
  findings: TemplateFinding[]
}

export async function checkTemplates(janua: Janua): Promise<TemplateCheckReport> {
  const set = janua.templates
  const findings: TemplateFinding[] = [...staticFindings(set)]
  const applied = await withClient(janua.conn.primaryPool(), (c) => sharedHistory(c))
  findings.push(...historyFindings(set, applied))

  let catalog: Catalog | undefined
  try {
    const expected = await scratchCatalog(janua, set.files, janua.conn.primaryPool(), { where: `templates check of ${set.dir}`, createAppRole: true })
    catalog = expected.catalog
    findings.push(...expected.lint.map((f) => located(set, f)))
  } catch (error) {
    if (!(error instanceof JanuaError) || error.code !== 'template_failed') throw error
    const details = error.details as { file?: string; line?: number } | undefined
    findings.push({ code: 'template/apply-failed', message: redactAll(error.message), file: details?.file && fileOf(set, details.file), line: details?.line })
  }
  const { levels, referenceTables } = catalog ? levelsOf(catalog) : { levels: unknownLevels(), referenceTables: [] }
  findings.sort((a, b) => (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 0) - (b.line ?? 0) || a.code.localeCompare(b.code))
  return { ok: findings.length === 0, dir: set.dir, files: set.files.length, latest: set.latest, levels, referenceTables, findings }
}

/** The shared placement's history on the primary, when janua already runs there. */
async function sharedHistory(client: pg.ClientBase): Promise<AppliedFile[]> {
  const { rows } = await client.query<{ exists: boolean }>('select exists (select 1 from pg_namespace where nspname = $1) as exists', [SHARED_SCHEMA])
  return rows[0]!.exists ? readApplied(client, SHARED_SCHEMA) : []
}

/** Relative to the working directory, as CI annotations want it. */
const fileOf = (set: TemplateSet, name: string) => path.relative(process.cwd(), path.join(set.dir, name))

/** What `tenant migrate` would refuse (pure). */
export function historyFindings(set: TemplateSet, applied: AppliedFile[]): TemplateFinding[] {
  const findings: TemplateFinding[] = []
  const byName = new Map(set.files.map((f) => [f.name, f]))
  for (const row of applied) {
    const file = byName.get(row.file)
    if (!file)
      findings.push({
        code: 'template/applied-missing',
        message: `${row.file} was applied to the shared placement but is not in ${set.dir}: applied files are immutable, restore it`,
      })
    else if (file.sha256 !== row.sha256) {
      findings.push({
        code: 'template/checksum-changed',
        file: fileOf(set, file.name),
        line: 1,
        message: `${file.name} was edited after it was applied (sha256 ${row.sha256.slice(0, 12)}, now ${file.sha256.slice(0, 12)}): restore it and put the change in a new file`,
      })
    }
  }
  const version = applied.reduce((m, a) => Math.max(m, a.version), 0)
  const done = new Set(applied.map((a) => a.file))
  for (const file of set.files.filter((f) => !done.has(f.name) && f.version < version)) {
    findings.push({
      code: 'template/out-of-order',
      file: fileOf(set, file.name),
      line: 1,
      message: `${file.name} is numbered below the shared placement's version ${version} but was never applied: renumber it after ${version}`,
    })
  }
  return findings
}

const NEEDS_NO_TRANSACTION =
  /^\s*(?:(?:create|drop)\s+index\s+concurrently|reindex\b.*\bconcurrently|vacuum\b|create\s+database\b|alter\s+system\b|(?:refresh\s+materialized\s+view|detach\s+partition)\b.*\bconcurrently\b|alter\s+table\b.*\bdetach\s+partition\b.*\bconcurrently\b)/is
const TRANSACTION_CONTROL = /^\s*(?:begin|start\s+transaction|commit|end|rollback|abort)\s*(?:transaction|work)?\s*;?\s*$/is

/** Checks of the files' text (pure). */
export function staticFindings(set: TemplateSet): TemplateFinding[] {
  const findings: TemplateFinding[] = []
  for (const file of set.files) {
    const at = (offset: number) => lineAndColumn(file.sql, offset + 1).line
    for (const statement of splitStatements(file.sql)) {
      const text = withoutLeadingComments(statement.text)
      const lead = statement.offset // after the statement's leading comments
      if (!file.noTransaction && NEEDS_NO_TRANSACTION.test(text)) {
        findings.push({
          code: 'template/needs-no-transaction',
          file: fileOf(set, file.name),
          line: at(lead),
          message: `${firstWords(text)} cannot run inside a transaction: put it in a file of its own whose header has \`-- janua:no-transaction\``,
        })
      }
      if (TRANSACTION_CONTROL.test(text)) {
        findings.push({
          code: 'template/transaction-control',
          file: fileOf(set, file.name),
          line: at(lead),
          message: `${firstWords(text)}: janua runs each file in a transaction of its own; remove it`,
        })
      }
    }
    const marker = /^\s*--\s*janua:no-transaction\b/m.exec(file.sql)
    if (marker && !NO_TRANSACTION_HEADER.test(headerOf(file.sql))) {
      findings.push({
        code: 'template/misplaced-header',
        file: fileOf(set, file.name),
        line: at(marker.index),
        message: '`-- janua:no-transaction` counts only in the leading comment lines, before the first statement: move it to the top',
      })
    }
  }
  return findings
}

const withoutLeadingComments = (text: string) => text.replace(/^(\s*--[^\n]*\n|\s*\/\*[\s\S]*?\*\/)*/, '').trim()
const firstWords = (text: string) => text.split(/\s+/).slice(0, 4).join(' ').replace(/;$/, '')

/** Which levels the folder can hold, from its catalog (pure): shared needs tenant_id tables under forced RLS. */
export function levelsOf(catalog: Catalog): { levels: LevelSupport[]; referenceTables: string[] } {
  const objects = [...catalog.values()]
  const tables = objects.filter((o) => o.kind === 'table' && /^(table|partitioned-table)\b/.test(o.descr))
  const withTenant = new Set(objects.filter((o) => o.kind === 'column' && o.key.endsWith('.tenant_id')).map((o) => o.key.slice(0, -'.tenant_id'.length)))
  const tenantTables = tables.filter((t) => withTenant.has(t.key))
  const referenceTables = tables
    .filter((t) => !withTenant.has(t.key))
    .map((t) => t.key)
    .sort()
  const unprotected = tenantTables
    .filter((t) => /\b(no-rls|not-forced)\b/.test(t.descr))
    .map((t) => t.key)
    .sort()
  let reason: string | undefined
  if (tenantTables.length === 0) reason = 'no table has a tenant_id column: shared tenants are separated only by Row-Level Security on tenant_id'
  else if (unprotected.length) reason = `table(s) ${unprotected.join(', ')} have tenant_id but no forced Row-Level Security`
  return {
    levels: [
      { level: 'shared', supported: !reason, ...(reason ? { reason } : {}) },
      { level: 'schema', supported: true },
      { level: 'database', supported: true },
    ],
    referenceTables,
  }
}

const unknownLevels = (): LevelSupport[] => (['shared', 'schema', 'database'] as const).map((level) => ({ level, supported: false, reason: 'the templates do not apply' }))

/** A lint finding with the file and line of the statement that made its object (pure). */
export function located(set: TemplateSet, finding: Finding): TemplateFinding {
  const result: TemplateFinding = { code: finding.code, object: finding.object, message: finding.message }
  const where = locate(set.files, patternsFor(finding))
  if (where) {
    result.file = fileOf(set, where.file.name)
    result.line = where.line
  }
  return result
}

const word = (name: string) => `"?${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?`

/** Regular expressions that find the statement behind a finding's object, best first. */
function patternsFor(finding: Finding): RegExp[] {
  const [kind, ...rest] = finding.object.split(' ')
  const name = rest.join(' ')
  const creates = (what: string, n: string) =>
    new RegExp(`\\bcreate\\s+(?:or\\s+replace\\s+)?(?:unique\\s+)?(?:materialized\\s+)?${what}\\s+(?:if\\s+not\\s+exists\\s+)?${word(n)}(?![\\w$])`, 'i')
  switch (kind) {
    case 'table':
    case 'view': {
      if (finding.code === 'lint/rls-disabled' || finding.code === 'lint/rls-not-forced') {
        return [
          new RegExp(`\\balter\\s+table\\s+(?:only\\s+)?${word(name)}\\s+(?:enable|force|no\\s+force|disable)\\s+row\\s+level\\s+security`, 'i'),
          creates('(?:table|view)', name),
        ]
      }
      return [creates('(?:table|view)', name)]
    }
    case 'index':
      return [creates('index', name)]
    case 'policy': {
      const [table, policy] = name.split('.') as [string, string]
      return [
        new RegExp(`\\bcreate\\s+policy\\s+${word(policy)}\\s+on\\s+${word(table)}(?![\\w$])`, 'i'),
        new RegExp(`\\balter\\s+policy\\s+${word(policy)}\\s+on\\s+${word(table)}`, 'i'),
      ]
    }
    case 'constraint': {
      const [table, constraint] = name.split('.') as [string, string]
      // an unnamed constraint: the table's CREATE (its name is generated)
      return [new RegExp(`\\bconstraint\\s+${word(constraint)}(?![\\w$])`, 'i'), creates('table', table)]
    }
    case 'grant': {
      const [object, , grantee] = name.split(' ') as [string, string, string]
      return [new RegExp(`\\bgrant\\b[^;]*\\bon\\s+(?:table\\s+)?(?:[^;]*,\\s*)?${word(object)}\\b[^;]*\\bto\\s+${grantee}\\b`, 'i'), creates('(?:table|view|sequence)', object)]
    }
    default:
      return []
  }
}

/** The newest file (and line) where a pattern matches outside comments. */
function locate(files: TemplateFile[], patterns: RegExp[]): { file: TemplateFile; line: number } | undefined {
  for (const pattern of patterns) {
    for (const file of [...files].reverse()) {
      const text = file.sql.replace(/--[^\n]*/g, (c) => ' '.repeat(c.length))
      const match = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`)
      let last: RegExpExecArray | undefined
      for (let m = match.exec(text); m; m = match.exec(text)) last = m
      if (last) return { file, line: lineAndColumn(file.sql, last.index + 1).line }
    }
  }
  return undefined
}
