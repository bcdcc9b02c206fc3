// `npm run bench -- migrate`: the fleet-migrate benchmark of DESIGN.md ("Performance budget") and
// issue 3 item 9.
//
// Builds a fleet through the core API (dist/), then applies three template files of the same shape
// (a column, an index, a policy change) in three ways, each to a fresh file so that every run does
// the same DDL on the same fleet:
//   (b) 0005 bare server: one psql script per database, one transaction per placement
//       (BEGIN; SET LOCAL search_path; the 3 statements; the janua history row; COMMIT);
//   (a) 0006 `janua tenant migrate --json` as a subprocess;
//   (c) 0007 one process per tenant (node-pg-migrate up --schema <tenant>), on a sample of the
//       schema tenants, extrapolated linearly.
// (b) goes first and records its file in each placement's janua history (same checksum), so that
// janua then sees 0005 as applied and 0006 as the only pending file.
//
// Environment: JANUA_BENCH_DATABASE_URL (server; default postgres://postgres@127.0.0.1:5432/postgres),
// BENCH_SCHEMAS (1000), BENCH_DATABASES (50), BENCH_PARALLELISM (4: concurrent createTenant calls),
// BENCH_C_SAMPLE (100: schema tenants measured for (c)), BENCH_CONCURRENCY (passed to janua as
// --concurrency; default: janua's own choice), BENCH_SWEEP (e.g. "2,4,8": extra janua runs at those
// --concurrency values, each with its own file, then a second psql baseline).
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  benchWorkspace,
  buildFleet,
  createBenchDatabase,
  ensureBuilt,
  fmtMs,
  fmtS,
  intEnv,
  log,
  now,
  ql,
  qi,
  query,
  redactUrl,
  repoRoot,
  round,
  runCleanups,
  runProcess,
  table,
  withDatabase,
} from './lib/common.js'

const NODE_PG_MIGRATE = path.join(repoRoot, 'node_modules', 'node-pg-migrate', 'bin', 'node-pg-migrate.js')
const JANUA_BIN = path.join(repoRoot, 'bin', 'run.js')
const sha256 = (text) => createHash('sha256').update(text).digest('hex')

/** One benchmark template file: a column, an index leading with tenant_id, a policy change. */
export function benchFile(version, column, appRole) {
  const name = `${String(version).padStart(4, '0')}_bench_${column}.sql`
  const index = `users_tenant_${column}_idx`
  const statements = [
    `alter table users add column ${column} text;`,
    `create index ${index} on users (tenant_id, ${column});`,
    `alter policy tenant_isolation on users to ${qi(appRole)};`,
  ]
  const sql = `-- ${name}: benchmark file (a column, an index, a policy change)\n${statements.join('\n')}\n`
  return { version, name, column, index, statements, sql, sha256: sha256(sql) }
}

/** Every placement on the primary server, plus the template database; grouped by database, primary first. */
export async function listPlacements(db, cpId) {
  const { templateDatabase, DATABASE_TENANT_SCHEMA } = await import('../dist/core/placement.js')
  const { rows } = await query(db.url, `select kind, database, schema from janua.placements where server = 'primary' order by id`)
  const template = templateDatabase(cpId)
  if ((await query(db.server, 'select 1 from pg_database where datname = $1', [template])).rowCount) {
    rows.push({ kind: 'template', database: template, schema: DATABASE_TENANT_SCHEMA })
  }
  const groups = new Map([[db.name, []]])
  for (const p of rows) {
    if (!groups.has(p.database)) groups.set(p.database, [])
    groups.get(p.database).push(p)
  }
  return { all: rows, groups }
}

/** How many placements carry a file's index (untimed check that a run really did its DDL). */
async function countIndex(db, placements, index) {
  let n = 0
  for (const database of placements.groups.keys()) {
    const { rows } = await query(withDatabase(db.server, database), `select count(*)::int as n from pg_class where relname = $1 and relkind = 'i'`, [index])
    n += rows[0].n
  }
  return n
}

// --- (b) the bare server: psql, one transaction per placement ------------------------------------

export async function bareServer(db, ws, placements, file) {
  const { HISTORY_TABLE } = await import('../dist/core/apply.js')
  const scripts = []
  for (const [database, list] of placements.groups) {
    if (!list.length) continue
    const text = list
      .map((p) =>
        [
          'BEGIN;',
          `SET LOCAL search_path = ${qi(p.schema)};`,
          file.sql.trimEnd(),
          `INSERT INTO ${qi(p.schema)}.${qi(HISTORY_TABLE)} (version, file, sha256, duration_ms) VALUES (${file.version}, ${ql(file.name)}, ${ql(file.sha256)}, 0);`,
          'COMMIT;',
          '',
        ].join('\n'),
      )
      .join('')
    const scriptPath = path.join(ws.dir, `b_${file.name}_${database}.sql`)
    fs.writeFileSync(scriptPath, text)
    scripts.push({ database, path: scriptPath, transactions: list.length, primary: database === db.name })
  }
  log(`(b) psql: ${scripts.length} script(s), ${scripts.reduce((n, s) => n + s.transactions, 0)} transactions, file ${file.name}`)
  const started = now()
  const runs = []
  for (const s of scripts) {
    const r = await runProcess('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', withDatabase(db.server, s.database), '-f', s.path])
    if (r.code !== 0) throw new Error(`(b) psql -f ${s.path} exited ${r.code}: ${r.stderr.slice(0, 2000)}`)
    runs.push({ ...s, ms: r.ms })
  }
  const ms = now() - started
  const primary = runs.filter((r) => r.primary)
  const others = runs.filter((r) => !r.primary)
  return {
    file: file.name,
    ms,
    placements: runs.reduce((n, r) => n + r.transactions, 0),
    psqlProcesses: runs.length,
    primaryMs: primary.reduce((t, r) => t + r.ms, 0),
    primaryTransactions: primary.reduce((n, r) => n + r.transactions, 0),
    databasesMs: others.reduce((t, r) => t + r.ms, 0),
    databasesCount: others.length,
    command: `psql -X -q -v ON_ERROR_STOP=1 -f <script>, ${runs.length} process(es) in sequence`,
  }
}

// --- (a) janua tenant migrate ------------------------------------------------------------------

export function januaEnv(db, ws) {
  const env = { ...process.env, DATABASE_URL: db.url, JANUA_TEMPLATES: ws.templatesDir, NO_COLOR: '1' }
  delete env.JANUA_DATABASE_URL // it would win over DATABASE_URL
  return env
}

export async function januaMigrate(db, ws, file, expected, concurrency) {
  const args = ['tenant', 'migrate', '--json', ...(concurrency ? ['--concurrency', String(concurrency)] : [])]
  log(`(a) janua ${args.join(' ')} (file ${file?.name ?? 'none: nothing pending'})`)
  const r = await runProcess(process.execPath, [JANUA_BIN, ...args], { env: januaEnv(db, ws), cwd: ws.dir })
  let report
  try {
    report = JSON.parse(r.stdout)
  } catch {
    throw new Error(`janua ${args.join(' ')} exited ${r.code} without a JSON report: ${r.stderr.slice(0, 2000)} ${r.stdout.slice(0, 2000)}`)
  }
  const s = report.summary
  if (r.code !== 0 || !s) throw new Error(`janua ${args.join(' ')} exited ${r.code}: ${JSON.stringify(report.error ?? s).slice(0, 2000)} ${r.stderr.slice(0, 1000)}`)
  if (!file) {
    // nothing pending: what a run costs besides the DDL (start, plan, history reads)
    if (s.filesApplied !== 0 || s.failed !== 0 || s.upToDate !== expected) throw new Error(`janua with nothing pending: ${JSON.stringify(s)}`)
    return { file: '(none pending)', ms: r.ms, reportedMs: s.durationMs, concurrency: report.concurrency, placements: s.placements, command: `janua ${args.join(' ')}` }
  }
  const wrong = report.placements.filter((p) => p.status !== 'migrated' || p.applied.length !== 1 || p.applied[0] !== file.name)
  if (s.migrated !== expected || s.filesApplied !== expected || s.failed !== 0 || wrong.length) {
    throw new Error(
      `janua applied ${s.filesApplied} file(s) to ${s.migrated} placement(s), ${s.failed} failed; expected ${file.name} on ${expected}: ${JSON.stringify(wrong.slice(0, 3))}`,
    )
  }
  // Where janua's time goes: the placements' own durations, by kind.
  const byKind = {}
  for (const p of report.placements) {
    const k = (byKind[p.kind] ??= { count: 0, totalMs: 0, maxMs: 0 })
    k.count++
    k.totalMs += p.durationMs
    k.maxMs = Math.max(k.maxMs, p.durationMs)
  }
  for (const k of Object.values(byKind)) k.meanMs = round(k.totalMs / k.count, 2)
  return {
    file: file.name,
    ms: r.ms,
    reportedMs: s.durationMs,
    concurrency: report.concurrency,
    placements: s.placements,
    migrated: s.migrated,
    filesApplied: s.filesApplied,
    byKind,
    command: `janua ${args.join(' ')}`,
    runId: report.runId,
  }
}

// --- (c) one process per tenant --------------------------------------------------------------------

async function perTenantLoop(db, ws, sampleSchemas, file) {
  const dir = path.join(ws.dir, 'node-pg-migrate')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, file.name), `-- Up Migration\n${file.statements.join('\n')}\n`)
  const plainFile = path.join(ws.dir, `c_${file.name}`)
  fs.writeFileSync(plainFile, `${file.statements.join('\n')}\n`)
  // Steady state: a tool used before already has its bookkeeping table in each schema (untimed).
  const prep = sampleSchemas
    .map((s) => `create table if not exists ${qi(s)}.pgmigrations (id serial primary key, name varchar(255) not null, run_on timestamp not null);`)
    .join('\n')
  const prepPath = path.join(ws.dir, 'c_prepare.sql')
  fs.writeFileSync(prepPath, `${prep}\n`)
  const p = await runProcess('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db.url, '-f', prepPath])
  if (p.code !== 0) throw new Error(`(c) preparing pgmigrations tables: ${p.stderr.slice(0, 2000)}`)

  let tool = 'node-pg-migrate'
  let note
  let version = ''
  if (!fs.existsSync(NODE_PG_MIGRATE)) {
    tool = 'psql'
    note = 'node-pg-migrate is not installed (npm i -D node-pg-migrate): psql per schema instead'
  } else {
    version = JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', 'node-pg-migrate', 'package.json'), 'utf8')).version
  }
  const runOne = (schema) =>
    tool === 'node-pg-migrate'
      ? runProcess(process.execPath, [NODE_PG_MIGRATE, 'up', '--schema', schema, '--migrations-dir', dir, '--no-verbose'], {
          env: { ...process.env, DATABASE_URL: db.url },
          cwd: ws.dir,
        })
      : runProcess('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-1', '-d', db.url, '-f', plainFile], { env: { ...process.env, PGOPTIONS: `-c search_path=${schema}` } })

  if (tool === 'node-pg-migrate') {
    // The first tenant doubles as a probe: if the tool is unworkable, fall back to psql (said in the output).
    const probe = await runOne(sampleSchemas[0])
    if (probe.code !== 0) {
      tool = 'psql'
      note = `node-pg-migrate failed on ${sampleSchemas[0]} (exit ${probe.code}: ${probe.stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 400)}): psql per schema instead`
      log(`(c) ${note}`)
    } else {
      // Its result counts for nothing: redo it in the timed loop.
      await query(
        db.url,
        `drop index ${qi(sampleSchemas[0])}.${qi(file.index)}; alter table ${qi(sampleSchemas[0])}.users drop column ${qi(file.column)}; delete from ${qi(sampleSchemas[0])}.pgmigrations`,
      )
    }
  }
  const command =
    tool === 'node-pg-migrate'
      ? `node node_modules/node-pg-migrate/bin/node-pg-migrate.js up --schema <tenant> --migrations-dir <dir> --no-verbose (node-pg-migrate ${version}), DATABASE_URL set`
      : 'PGOPTIONS="-c search_path=<tenant>" psql -X -q -v ON_ERROR_STOP=1 -1 -f <file>'
  log(`(c) ${tool}: one process per schema tenant, ${sampleSchemas.length} in sequence (file ${file.name})`)
  const started = now()
  const each = []
  for (const schema of sampleSchemas) {
    const r = await runOne(schema)
    if (r.code !== 0) throw new Error(`(c) ${tool} on ${schema} exited ${r.code}: ${(r.stderr + r.stdout).slice(0, 2000)}`)
    each.push(r.ms)
  }
  const ms = now() - started
  each.sort((x, y) => x - y)
  return {
    file: file.name,
    tool,
    toolVersion: version || undefined,
    note,
    command,
    sample: sampleSchemas.length,
    sampleMs: ms,
    perTenantMs: ms / sampleSchemas.length,
    medianMs: each[Math.floor(each.length / 2)],
    sequential: true,
  }
}

// --- the benchmark ---------------------------------------------------------------------------------

export async function run() {
  const schemas = intEnv('BENCH_SCHEMAS', 1000, 1)
  const databases = intEnv('BENCH_DATABASES', 50, 0)
  const parallelism = intEnv('BENCH_PARALLELISM', 4, 1)
  const sampleSize = Math.min(intEnv('BENCH_C_SAMPLE', 100, 1), schemas)
  const concurrency = intEnv('BENCH_CONCURRENCY', 0, 0) || undefined
  const sweep = (process.env.BENCH_SWEEP ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean)
    .map(Number)
  if (sweep.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`BENCH_SWEEP must be a list of integers, e.g. 2,4,8`)

  ensureBuilt()
  const ws = benchWorkspace()
  try {
    const db = await createBenchDatabase('migrate')
    const pgVersion = (await query(db.server, 'show server_version')).rows[0].server_version
    log(`database ${db.name} on ${redactUrl(db.server)} (PostgreSQL ${pgVersion}); templates copied to ${ws.templatesDir}`)

    // 1. the fleet, through the core API
    const fleet = await buildFleet({ url: db.url, templatesDir: ws.templatesDir, cwd: ws.dir, schemas, databases, parallelism })
    const placements = await listPlacements(db, fleet.cpId)
    const expected = placements.all.length
    const counts = placements.all.reduce((m, p) => ((m[p.kind] = (m[p.kind] ?? 0) + 1), m), {})

    // 2 + 3. three files of the same shape; each run gets its own
    let next = fleet.templateVersion + 1
    const addTemplate = (column) => {
      const file = benchFile(next++, column, fleet.appRole)
      fs.writeFileSync(path.join(ws.templatesDir, file.name), file.sql)
      return file
    }
    const verify = async (label, file, want) => {
      const got = await countIndex(db, placements, file.index)
      if (got !== want) throw new Error(`${label}: ${file.index} exists in ${got} placement(s), expected ${want}`)
    }

    const fileB = addTemplate('phone')
    const b = await bareServer(db, ws, placements, fileB)
    await verify('(b)', fileB, expected)

    const fileA = addTemplate('nickname')
    const a = await januaMigrate(db, ws, fileA, expected, concurrency)
    await verify('(a)', fileA, expected)
    const noop = await januaMigrate(db, ws, null, expected, concurrency)

    // (c)'s file is not given to janua: the tool keeps its own bookkeeping (pgmigrations)
    const fileC = benchFile(next++, 'locale', fleet.appRole)
    const sampleSchemas = fleet.schemaTenants.slugs.slice(0, sampleSize).map((slug) => `tenant_${slug}`)
    const c = await perTenantLoop(db, ws, sampleSchemas, fileC)
    const inPrimary = (await query(db.url, `select count(*)::int as n from pg_class where relname = $1 and relkind = 'i'`, [fileC.index])).rows[0].n
    if (inPrimary !== sampleSize) throw new Error(`(c): ${fileC.index} exists in ${inPrimary} schema(s), expected ${sampleSize}`)
    c.extrapolatedSchemasMs = c.perTenantMs * schemas
    c.extrapolatedPlacementsMs = c.perTenantMs * expected

    const startup = await runProcess(process.execPath, [JANUA_BIN, '--version'], { env: januaEnv(db, ws), cwd: ws.dir })

    // optional: where janua's time goes at other concurrencies, and a second baseline for noise
    const sweepRuns = []
    for (const n of sweep) {
      const file = addTemplate(`sweep_c${n}`)
      const r = await januaMigrate(db, ws, file, expected, n)
      sweepRuns.push({ label: `(a) janua --concurrency ${n}`, ...r })
    }
    let b2
    if (sweep.length) {
      b2 = await bareServer(db, ws, placements, addTemplate('rebaseline'))
    }

    const ratios = {
      aOverB: a.ms / b.ms,
      cOverA: c.extrapolatedPlacementsMs / a.ms,
      c1000OverA: c.extrapolatedSchemasMs / a.ms,
    }

    // --- report ---
    const out = []
    out.push('')
    out.push('janua fleet-migrate benchmark (npm run bench -- migrate)')
    out.push(`server: ${redactUrl(db.server)} (PostgreSQL ${pgVersion}), ${os.cpus().length} cores, node ${process.version}; built code from dist/`)
    out.push(
      `fleet: ${schemas} schema tenants + ${databases} database tenants = ${expected} placements ` +
        `(${counts.shared ?? 0} shared + ${counts.schema ?? 0} schemas in ${db.name}, ${counts.database ?? 0} tenant databases, ${counts.template ?? 0} template database)`,
    )
    out.push('')
    out.push(`1. Provisioning through the core API (createTenant, ${parallelism} at a time, templates 0001-${String(fleet.templateVersion).padStart(4, '0')})`)
    out.push(
      table(
        ['TENANTS', 'COUNT', 'TOTAL', 'PER TENANT'],
        [
          ['schema tenants', fleet.schemaTenants.count, fmtS(fleet.schemaTenants.ms), fmtMs(fleet.schemaTenants.perTenantMs)],
          ['database tenants', fleet.databaseTenants.count, fmtS(fleet.databaseTenants.ms), fmtMs(fleet.databaseTenants.perTenantMs)],
        ],
      ),
    )
    out.push('')
    out.push('2-3. One template file per run, each: a column, an index (tenant_id, column), a policy change')
    out.push(
      table(
        ['RUN', 'FILE', 'PLACEMENTS', 'TIME', 'PER PLACEMENT'],
        [
          ['(b) bare server: psql, 1 transaction per placement', b.file, b.placements, fmtS(b.ms), fmtMs(b.ms / b.placements)],
          [`(a) janua tenant migrate --json (concurrency ${a.concurrency})`, a.file, a.placements, fmtS(a.ms), fmtMs(a.ms / a.placements)],
          ['(a0) janua again, nothing pending (start + plan only)', noop.file, noop.placements, fmtS(noop.ms), fmtMs(noop.ms / noop.placements)],
          [`(c) ${c.tool}, 1 process per schema tenant: MEASURED`, c.file, `${c.sample} schemas`, fmtS(c.sampleMs), fmtMs(c.perTenantMs)],
          [`(c) EXTRAPOLATED (linear) to ${schemas} schema tenants`, c.file, `${schemas} schemas`, fmtS(c.extrapolatedSchemasMs), fmtMs(c.perTenantMs)],
          [`(c) EXTRAPOLATED (linear) to all ${expected} placements`, c.file, expected, fmtS(c.extrapolatedPlacementsMs), fmtMs(c.perTenantMs)],
          ...sweepRuns.map((r) => [r.label, r.file, r.placements, fmtS(r.ms), fmtMs(r.ms / r.placements)]),
          ...(b2 ? [['(b) bare server again (noise check)', b2.file, b2.placements, fmtS(b2.ms), fmtMs(b2.ms / b2.placements)]] : []),
        ],
        ['l', 'l', 'r', 'r', 'r'],
      ),
    )
    out.push('')
    out.push(
      `(b) ${b.command}: ${b.primaryTransactions} transactions in ${db.name} (${fmtS(b.primaryMs)}), ${b.databasesCount} database(s) one psql each (${fmtS(b.databasesMs)}); ` +
        `each transaction also inserts the janua history row, so janua then sees ${b.file} as applied`,
    )
    out.push(
      `(a) ${a.command}: wall time of the subprocess (janua reports ${fmtS(a.reportedMs)} inside; bare CLI start \`janua --version\` ${fmtMs(startup.ms)}); ` +
        `mean per placement inside janua: ${Object.entries(a.byKind)
          .map(([k, v]) => `${k} ${v.meanMs} ms x${v.count}`)
          .join(', ')}`,
    )
    out.push(
      `(c) ${c.command}; in sequence, median ${fmtMs(c.medianMs)} per process${c.note ? `; NOTE: ${c.note}` : ''}; its bookkeeping table (pgmigrations) was created beforehand, untimed`,
    )
    out.push('')
    const verdict = (ok) => (ok ? 'PASS' : 'FAIL')
    out.push(
      table(
        ['RATIO', 'VALUE', 'TARGET', ''],
        [
          ['a/b (janua vs bare server)', ratios.aOverB.toFixed(2), '<= 1.5', verdict(ratios.aOverB <= 1.5)],
          [`c/a (c extrapolated to the same ${expected} placements)`, ratios.cOverA.toFixed(1), '>= 10', verdict(ratios.cOverA >= 10)],
          [`c/a (c extrapolated to ${schemas} schema tenants only)`, ratios.c1000OverA.toFixed(1), '>= 10', verdict(ratios.c1000OverA >= 10)],
        ],
        ['l', 'r', 'r', 'l'],
      ),
    )
    out.push('')
    console.log(out.join('\n'))

    const json = {
      bench: 'migrate',
      server: redactUrl(db.server),
      postgres: pgVersion,
      cores: os.cpus().length,
      node: process.version,
      fleet: { schemaTenants: schemas, databaseTenants: databases, placements: expected, byKind: counts },
      create: {
        parallelism,
        schemaTenants: { count: fleet.schemaTenants.count, ms: round(fleet.schemaTenants.ms), perTenantMs: round(fleet.schemaTenants.perTenantMs, 2) },
        databaseTenants: { count: fleet.databaseTenants.count, ms: round(fleet.databaseTenants.ms), perTenantMs: round(fleet.databaseTenants.perTenantMs, 2) },
      },
      b: { file: b.file, ms: round(b.ms), placements: b.placements, psqlProcesses: b.psqlProcesses, primaryMs: round(b.primaryMs), databasesMs: round(b.databasesMs) },
      noop: { ms: round(noop.ms), januaReportedMs: noop.reportedMs },
      a: {
        file: a.file,
        ms: round(a.ms),
        januaReportedMs: a.reportedMs,
        cliStartupMs: round(startup.ms),
        concurrency: a.concurrency,
        placements: a.placements,
        filesApplied: a.filesApplied,
        byKind: a.byKind,
      },
      c: {
        file: c.file,
        tool: c.tool,
        toolVersion: c.toolVersion,
        note: c.note,
        sequential: true,
        sample: c.sample,
        sampleMs: round(c.sampleMs),
        perTenantMs: round(c.perTenantMs, 2),
        medianMs: round(c.medianMs, 2),
        extrapolated: { schemas, ms: round(c.extrapolatedSchemasMs) },
        extrapolatedPlacements: { placements: expected, ms: round(c.extrapolatedPlacementsMs) },
      },
      ratios: { a_over_b: round(ratios.aOverB, 3), c_over_a: round(ratios.cOverA, 2), c_schemas_over_a: round(ratios.c1000OverA, 2) },
      targets: { a_over_b: 1.5, c_over_a: 10 },
      pass: { a_over_b: ratios.aOverB <= 1.5, c_over_a: ratios.cOverA >= 10 && ratios.c1000OverA >= 10 },
      sweep: sweepRuns.map((r) => ({
        concurrency: r.concurrency,
        file: r.file,
        ms: round(r.ms),
        januaReportedMs: r.reportedMs,
        a_over_b: round(r.ms / b.ms, 3),
        byKind: r.byKind,
      })),
      rebaseline: b2 ? { file: b2.file, ms: round(b2.ms) } : undefined,
    }
    console.log(`BENCH_JSON ${JSON.stringify(json)}`)
  } finally {
    await runCleanups()
  }
}
