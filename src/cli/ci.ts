import fs from 'node:fs'
import path from 'node:path'
import type { Finding } from '../catalog/findings.js'
import type { MigrateReport, PlacementOutcome } from '../core/migrate.js'
import { describePlacement } from '../core/placement.js'
import type { VerifyReport } from '../core/verify.js'

/** One distinct migrate error and the placements it hit (the same failing file fails many placements alike). */
export interface DistinctError {
  message: string
  file: string | null
  line: number | null
  column: number | null
  sqlstate: string | null
  exitCode: number
  placements: string[]
  tenants: string[]
}

/** The error of a placement without its placement prefix: what two placements failing alike share. */
function reasonOf(p: PlacementOutcome): string {
  const e = p.error!
  if (e.reason && e.file) return `${e.file}${e.line ? `:${e.line}:${e.column ?? 1}` : ''}: ${e.reason}`
  const where = describePlacement(p.placement)
  const at = e.message.indexOf(`${where}: `)
  return at >= 0 ? e.message.slice(at + where.length + 2) : e.message
}

/** Failed placements grouped by their error (file, line, column, SQLSTATE and message), in order of first appearance. */
export function distinctErrors(placements: readonly PlacementOutcome[]): DistinctError[] {
  const groups = new Map<string, DistinctError>()
  for (const p of placements) {
    if (p.status !== 'failed' || !p.error) continue
    const message = reasonOf(p)
    const key = JSON.stringify([message, p.error.file, p.error.line, p.error.column, p.error.sqlstate])
    let group = groups.get(key)
    if (!group) {
      group = {
        message,
        file: p.error.file ?? null,
        line: p.error.line ?? null,
        column: p.error.column ?? null,
        sqlstate: p.error.sqlstate ?? null,
        exitCode: p.error.exitCode,
        placements: [],
        tenants: [],
      }
      groups.set(key, group)
    }
    group.placements.push(describePlacement(p.placement))
    group.tenants.push(...p.tenants)
  }
  return [...groups.values()]
}

/** Up to `n` names, then "+k". */
export const some = (names: readonly string[], n = 3) => (names.length > n ? `${names.slice(0, n).join(', ')} +${names.length - n}` : names.join(', '))

const escapeData = (t: string) => t.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A')
const escapeProperty = (t: string) => escapeData(t).replaceAll(',', '%2C').replaceAll(':', '%3A')

/** A GitHub workflow command: `::error file=..,line=..,col=..,title=..::message`. */
export function annotation(
  level: 'error' | 'warning' | 'notice',
  message: string,
  where: { file?: string | null; line?: number | null; column?: number | null; title?: string },
): string {
  const props = [
    where.file ? `file=${escapeProperty(where.file)}` : '',
    where.file && where.line ? `line=${where.line}` : '',
    where.file && where.line && where.column ? `col=${where.column}` : '',
    where.title ? `title=${escapeProperty(where.title)}` : '',
  ].filter(Boolean)
  return `::${level}${props.length ? ` ${props.join(',')}` : ''}::${escapeData(message)}`
}

/** A template file as the workflow sees it: relative to the working directory (the checkout). */
export const workflowPath = (templatesDir: string, file: string) => path.relative(process.cwd(), path.join(templatesDir, file)) || file

/** `tenant migrate --format github`: one annotation per distinct error, then the outcome. */
export function migrateAnnotations(report: MigrateReport, errors: readonly DistinctError[]): string[] {
  const lines = errors.map((e) =>
    annotation('error', `${e.message} (${e.placements.length} placement(s): ${some(e.tenants.length ? e.tenants : e.placements, 5)})`, {
      file: e.file ? workflowPath(report.templates.dir, e.file) : null,
      line: e.line,
      column: e.column,
      title: `janua tenant migrate${e.sqlstate ? ` ${e.sqlstate}` : ''}`,
    }),
  )
  const s = report.summary
  lines.push(
    s.failed
      ? annotation('error', `${s.failed} of ${s.placements} placement(s) failed; ${s.migrated} migrated`, { title: 'janua tenant migrate' })
      : annotation('notice', `${s.migrated} migrated, ${s.upToDate} up to date; ${s.filesApplied} file(s) applied`, { title: 'janua tenant migrate' }),
  )
  return lines
}

/** Where a lint finding's object is created in the templates: the first `create ... <name>` line. */
export function templateLocation(finding: Pick<Finding, 'object'>, files: readonly { name: string; sql: string }[]): { file: string; line: number } | undefined {
  const name = finding.object.split(/\s+/).pop()?.split('.').pop()
  if (!name || !/^[A-Za-z_][A-Za-z0-9_$]*$/.test(name)) return undefined
  const pattern = new RegExp(`\\bcreate\\b.*\\b${name}\\b`, 'i')
  for (const file of files) {
    const index = file.sql.split('\n').findIndex((l) => pattern.test(l))
    if (index >= 0) return { file: file.name, line: index + 1 }
  }
  return undefined
}

const cell = (t: string) => t.replaceAll('|', '\\|').replaceAll('\n', ' ')

/** The Markdown job summary of a migrate run. */
export function migrateSummary(report: MigrateReport, errors: readonly DistinctError[]): string {
  const s = report.summary
  const lines = [
    `### janua tenant migrate: ${s.failed ? `${s.failed} failed` : 'ok'}`,
    '',
    `${s.migrated} migrated, ${s.upToDate} up to date, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ''}; ${s.filesApplied} file(s) applied to version ${report.targetVersion} in ${(s.durationMs / 1000).toFixed(1)}s`,
  ]
  if (errors.length) {
    lines.push('', '| error | file | placements |', '| --- | --- | --- |')
    for (const e of errors)
      lines.push(`| ${cell(e.message)} | ${e.file ? `${e.file}${e.line ? `:${e.line}` : ''}` : ''} | ${cell(some(e.tenants.length ? e.tenants : e.placements, 5))} |`)
  }
  return `${lines.join('\n')}\n`
}

/** The Markdown job summary of a verify run. */
export function verifySummary(report: VerifyReport): string {
  const s = report.summary
  const lines = [`### janua db verify: ${report.ok ? 'ok' : `${s.findings} finding(s)`}`, '', `${s.placements} placement(s): ${s.clean} clean, ${s.withFindings} with findings`]
  const counts = new Map<string, number>()
  for (const p of report.placements) for (const f of p.findings) counts.set(f.code, (counts.get(f.code) ?? 0) + 1)
  if (counts.size) {
    lines.push('', '| finding | count |', '| --- | --- |')
    for (const [code, n] of [...counts].sort((a, b) => b[1] - a[1])) lines.push(`| ${code} | ${n} |`)
  }
  return `${lines.join('\n')}\n`
}

/** Appends to $GITHUB_STEP_SUMMARY when it is set (GitHub Actions): false when it is not. */
export function appendStepSummary(markdown: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const file = env.GITHUB_STEP_SUMMARY
  if (!file) return false
  fs.appendFileSync(file, markdown)
  return true
}
