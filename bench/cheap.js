// `npm run bench -- cheap`: issue 9 item 6, "cheap commands stay cheap". Each janua figure is
// printed beside the bare-PostgreSQL baseline for the same work.
//
// 1. A small fleet (2 shared, 2 schema, 1 database tenant): the median wall time of BENCH_RUNS
//    runs of `janua --version` (the CLI's start alone), `janua tenant list --json` and
//    `janua db status --json`, beside psql running the list query. Target: tenant list <= 0.4 s.
// 2. BENCH_SCHEMAS (150) schema tenants:
//    - `janua tenant migrate --json` with nothing pending, beside psql reading every placement's
//      history in one query. Target: <= 0.6 s.
//    - one 3-statement template file (a column, an index, a policy change) over the fleet:
//      (b) one psql script, one transaction per placement (bench/migrate.js's baseline), then
//      (a) `janua tenant migrate --json` for a second file of the same shape. Target: a/b close
//      to 1 (printed; the budget of DESIGN.md is a/b <= 1.5).
//
// Environment: JANUA_BENCH_DATABASE_URL (server; default postgres://postgres@127.0.0.1:5432/postgres),
// BENCH_SCHEMAS (150), BENCH_RUNS (7), BENCH_PARALLELISM (4: concurrent createTenant calls).
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
  openJanua,
  qi,
  ql,
  query,
  redactUrl,
  repoRoot,
  round,
  runCleanups,
  runProcess,
  table,
} from './lib/common.js'
import { bareServer, benchFile, januaEnv, januaMigrate, listPlacements } from './migrate.js'

const JANUA_BIN = path.join(repoRoot, 'bin', 'run.js')

/** Median and minimum wall time of `runs` runs of one command (each must exit 0). */
async function timed(label, runs, command, args, options) {
  const times = []
  for (let i = 0; i < runs; i++) {
    const r = await runProcess(command, args, options)
    if (r.code !== 0) throw new Error(`${label} exited ${r.code}: ${(r.stderr + r.stdout).slice(0, 2000)}`)
    times.push(r.ms)
  }
  times.sort((a, b) => a - b)
  return { label, runs, medianMs: times[Math.floor(times.length / 2)], minMs: times[0], maxMs: times.at(-1) }
}

const psql = (url, sql) => ['psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql]]

const LIST_SQL = `select t.slug, t.name, t.status, t.isolation, p.server, p.database, p.schema, p.version
  from janua.tenants t join janua.placements p on p.id = t.placement_id order by t.slug`

/** Every placement's history in one query per database: what a no-op migrate must read at least. */
function historiesSql(placements, database, historyTable) {
  return placements.groups
    .get(database)
    .map((p) => `select ${ql(p.schema)}::text as schema, version, file, sha256 from ${qi(p.schema)}.${qi(historyTable)}`)
    .join(' union all ')
}

export async function run() {
  const schemas = intEnv('BENCH_SCHEMAS', 150, 1)
  const runs = intEnv('BENCH_RUNS', 7, 1)
  const parallelism = intEnv('BENCH_PARALLELISM', 4, 1)
  ensureBuilt()
  const { HISTORY_TABLE } = await import('../dist/core/apply.js')

  try {
    // --- 1. a small fleet --------------------------------------------------------------------------
    const small = benchWorkspace()
    const smallDb = await createBenchDatabase('cheap')
    const pgVersion = (await query(smallDb.server, 'show server_version')).rows[0].server_version
    log(`small fleet in ${smallDb.name} on ${redactUrl(smallDb.server)} (PostgreSQL ${pgVersion})`)
    await buildFleet({ url: smallDb.url, templatesDir: small.templatesDir, cwd: small.dir, schemas: 2, databases: 1, parallelism })
    {
      const { createTenant } = await import('../dist/core/tenants.js')
      const janua = await openJanua(smallDb.url, small.templatesDir, small.dir)
      try {
        for (const slug of ['shared1', 'shared2']) await createTenant(janua, { slug, isolation: 'shared' })
      } finally {
        await janua.close()
      }
    }
    const smallEnv = { env: januaEnv(smallDb, small), cwd: small.dir }
    log(`timing ${runs} runs each of janua --version, tenant list, db status, and psql`)
    const version = await timed('janua --version', runs, process.execPath, [JANUA_BIN, '--version'], smallEnv)
    const list = await timed('janua tenant list --json', runs, process.execPath, [JANUA_BIN, 'tenant', 'list', '--json'], smallEnv)
    const status = await timed('janua db status --json', runs, process.execPath, [JANUA_BIN, 'db', 'status', '--json'], smallEnv)
    const listBare = await timed('psql -c <the list query>', runs, ...psql(smallDb.url, LIST_SQL))
    await smallDb.drop()

    // --- 2. BENCH_SCHEMAS schema tenants -----------------------------------------------------------
    const ws = benchWorkspace()
    const db = await createBenchDatabase('cheapfleet')
    log(`fleet of ${schemas} schema tenants in ${db.name}`)
    const fleet = await buildFleet({ url: db.url, templatesDir: ws.templatesDir, cwd: ws.dir, schemas, databases: 0, parallelism })
    const placements = await listPlacements(db, fleet.cpId)
    const expected = placements.all.length

    const noopBare = await timed('psql -c <every history, one query>', runs, ...psql(db.url, historiesSql(placements, db.name, HISTORY_TABLE)))
    const noops = []
    for (let i = 0; i < runs; i++) noops.push(await januaMigrate(db, ws, null, expected))
    noops.sort((x, y) => x.ms - y.ms)
    const noop = { medianMs: noops[Math.floor(noops.length / 2)].ms, minMs: noops[0].ms, reportedMs: noops[Math.floor(noops.length / 2)].reportedMs }

    let next = fleet.templateVersion + 1
    const addTemplate = (column) => {
      const file = benchFile(next++, column, fleet.appRole)
      fs.writeFileSync(path.join(ws.templatesDir, file.name), file.sql)
      return file
    }
    const b = await bareServer(db, ws, placements, addTemplate('phone'))
    const fileA = addTemplate('nickname')
    const a = await januaMigrate(db, ws, fileA, expected)
    const got = (await query(db.url, `select count(*)::int as n from pg_class where relname = $1 and relkind = 'i'`, [fileA.index])).rows[0].n
    if (got !== expected) throw new Error(`(a): ${fileA.index} exists in ${got} placement(s), expected ${expected}`)
    const b2 = await bareServer(db, ws, placements, addTemplate('rebaseline'))

    // --- report --------------------------------------------------------------------------------------
    const verdict = (ok) => (ok ? 'PASS' : 'FAIL')
    const out = [
      '',
      'janua cheap-commands benchmark (npm run bench -- cheap)',
      `server: ${redactUrl(db.server)} (PostgreSQL ${pgVersion}), ${os.cpus().length} cores, load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}, node ${process.version}; built code from dist/`,
      '',
    ]
    out.push(`1. A small fleet (2 shared, 2 schema, 1 database tenant): wall time of ${runs} runs, median (min)`)
    out.push(
      table(
        ['COMMAND', 'MEDIAN', 'MIN', 'BARE POSTGRESQL', 'TARGET', ''],
        [
          ['janua --version (CLI start only)', fmtS(version.medianMs), fmtS(version.minMs), '', '', ''],
          ['janua tenant list --json', fmtS(list.medianMs), fmtS(list.minMs), `${fmtS(listBare.medianMs)} (${listBare.label})`, '<= 0.40 s', verdict(list.medianMs <= 400)],
          ['janua db status --json', fmtS(status.medianMs), fmtS(status.minMs), '', '', ''],
        ],
        ['l', 'r', 'r', 'l', 'r', 'l'],
      ),
    )
    out.push('')
    out.push(`2. ${schemas} schema tenants (${expected} placements with the shared one)`)
    out.push(
      table(
        ['RUN', 'JANUA', 'BARE POSTGRESQL', 'RATIO', 'TARGET', ''],
        [
          [
            `tenant migrate, nothing pending (median of ${runs})`,
            `${fmtS(noop.medianMs)} (inside ${fmtS(noop.reportedMs)})`,
            `${fmtS(noopBare.medianMs)} (${noopBare.label})`,
            (noop.medianMs / noopBare.medianMs).toFixed(2),
            '<= 0.60 s',
            verdict(noop.medianMs <= 600),
          ],
          [
            `tenant migrate, one 3-statement file (concurrency ${a.concurrency})`,
            `${fmtS(a.ms)} (inside ${fmtS(a.reportedMs)})`,
            `${fmtS(b.ms)}, again ${fmtS(b2.ms)} (psql script, 1 transaction per placement)`,
            (a.ms / b.ms).toFixed(2),
            'a/b <= 1.5',
            verdict(a.ms / b.ms <= 1.5),
          ],
        ],
        ['l', 'r', 'l', 'r', 'r', 'l'],
      ),
    )
    out.push('')
    out.push(
      `mean per placement inside janua: ${Object.entries(a.byKind)
        .map(([k, v]) => `${k} ${v.meanMs} ms x${v.count}`)
        .join(', ')}`,
    )
    out.push('')
    console.log(out.join('\n'))
    const json = {
      bench: 'cheap',
      server: redactUrl(db.server),
      postgres: pgVersion,
      cores: os.cpus().length,
      load: os.loadavg(),
      node: process.version,
      runs,
      small: {
        versionMs: round(version.medianMs),
        tenantListMs: round(list.medianMs),
        tenantListMinMs: round(list.minMs),
        dbStatusMs: round(status.medianMs),
        psqlListMs: round(listBare.medianMs),
      },
      fleet: { schemas, placements: expected },
      noop: { ms: round(noop.medianMs), minMs: round(noop.minMs), januaReportedMs: noop.reportedMs, psqlHistoriesMs: round(noopBare.medianMs) },
      migrate: {
        file: a.file,
        ms: round(a.ms),
        januaReportedMs: a.reportedMs,
        concurrency: a.concurrency,
        psqlMs: round(b.ms),
        psqlAgainMs: round(b2.ms),
        a_over_b: round(a.ms / b.ms, 3),
        byKind: a.byKind,
      },
      targets: { tenantListMs: 400, noopMs: 600, a_over_b: 1.5 },
      pass: { tenantList: list.medianMs <= 400, noop: noop.medianMs <= 600, a_over_b: a.ms / b.ms <= 1.5 },
    }
    console.log(`BENCH_JSON ${JSON.stringify(json)}`)
  } finally {
    await runCleanups()
  }
}
