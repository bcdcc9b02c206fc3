// `npm run bench -- verify`: the verify benchmark of DESIGN.md ("Performance budget") and issues 4
// and 11. Targets (issue 11): whole-fleet verify of 1,000 schema tenants under 2 s and of 10,000
// under 20 s (2 ms per tenant), `db verify --tenant <slug>` under 0.5 s.
//
// Run 1 of (a) is cold (no fingerprint kept yet: every schema's catalog is read); later runs find
// the database's catalog unchanged and use the kept fingerprints (src/core/fingerprint-cache.ts).
//
// Builds a fleet through the core API (dist/): the shared placement and BENCH_SCHEMAS schema
// tenants; then
//   (a) verifyFleet over the whole fleet, in process, BENCH_VERIFY_RUNS times, each on a fresh Janua;
//   (b) `node bin/run.js db verify --json` once (DATABASE_URL set): must print ok: true and exit 0;
//   (c) "one tenant at a time": verifyFleet({ tenants: [slug] }) for BENCH_VERIFY_SAMPLE tenants spread
//       over the fleet, each on a fresh Janua (like separate runs), averaged and extrapolated to
//       the fleet; plus BENCH_VERIFY_CLI_SAMPLE runs of `db verify --tenant <slug> --json`.
//
// Environment: JANUA_BENCH_DATABASE_URL (server; default postgres://postgres@127.0.0.1:5432/postgres),
// BENCH_SCHEMAS (1000), BENCH_PARALLELISM (4: concurrent createTenant calls while building),
// BENCH_VERIFY_RUNS (3), BENCH_VERIFY_SAMPLE (50), BENCH_VERIFY_CLI_SAMPLE (5), BENCH_MAX_LOAD (1.5: the
// 1-minute load average the timed part waits for, up to 3 min, after the build's autovacuum),
// BENCH_VACUUM (1: vacuum and analyze the catalogs after the build; 0: measure the fleet as built).
import os from 'node:os'
import { benchWorkspace, buildFleet, createBenchDatabase, fmtMs, fmtS, intEnv, log, now, query, redactUrl, round, runCleanups, runProcess, table } from './lib/common.js'
import { importDist, JANUA_BIN, januaEnv, runJanuaJson, waitForAutovacuum, waitForQuiet } from './lib/data.js'

/** Opens a fresh Janua, runs verifyFleet, closes: times the verify alone and the whole "run". */
async function timedVerify(Janua, verifyFleet, ws, url, options) {
  const t0 = now()
  const janua = await Janua.open({ databaseUrl: url, templates: ws.templatesDir, cwd: ws.dir })
  const t1 = now()
  try {
    const report = await verifyFleet(janua, options)
    const t2 = now()
    await janua.close()
    return { report, verifyMs: t2 - t1, totalMs: now() - t0, openMs: t1 - t0 }
  } catch (error) {
    // the measured run's error is the one to report; closing after it may fail for the same reason
    await janua.close().catch(() => {})
    throw error
  }
}

function assertClean(label, report, minPlacements) {
  if (!report.ok) {
    const bad = report.placements
      .filter((p) => p.findings.length)
      .slice(0, 3)
      .map(
        (p) =>
          `${p.placement.schema} [${p.tenants.join(',')}]: ${p.findings
            .slice(0, 3)
            .map((f) => `${f.code} ${f.object} ${f.message}`)
            .join('; ')}`,
      )
    throw new Error(`${label}: verify is not clean (${report.summary.findings} finding(s) in ${report.summary.withFindings} placement(s)): ${bad.join(' | ')}`)
  }
  if (report.summary.placements < minPlacements) throw new Error(`${label}: verified ${report.summary.placements} placement(s), expected at least ${minPlacements}`)
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length

export async function run(args = []) {
  // `npm run bench -- verify 10000`: the size as an argument, else BENCH_SCHEMAS
  const schemas = args[0] !== undefined && /^\d+$/.test(args[0]) ? Math.max(1, Number(args[0])) : intEnv('BENCH_SCHEMAS', 1000, 1)
  const parallelism = intEnv('BENCH_PARALLELISM', 4, 1)
  const runs = intEnv('BENCH_VERIFY_RUNS', 3, 1)
  const sampleSize = Math.min(intEnv('BENCH_VERIFY_SAMPLE', 50, 1), schemas)
  const cliSampleSize = Math.min(intEnv('BENCH_VERIFY_CLI_SAMPLE', 5, 0), schemas)
  const TARGET_MS = 2 * schemas

  // Every dist module up front: a rebuild by someone else later in the run cannot break it.
  const [{ Janua }, { verifyFleet }] = await importDist(['core/context.js', 'core/verify.js', 'core/control-plane.js', 'core/tenants.js', 'commands/db/verify.js'])
  const ws = benchWorkspace()
  try {
    const db = await createBenchDatabase('verify')
    const pgVersion = (await query(db.server, 'show server_version')).rows[0].server_version
    log(`database ${db.name} on ${redactUrl(db.server)} (PostgreSQL ${pgVersion})`)

    // 1. the fleet: the shared placement (db init) and the schema tenants
    const fleet = await buildFleet({ url: db.url, templatesDir: ws.templatesDir, cwd: ws.dir, schemas, databases: 0, parallelism })
    const expectedPlacements = schemas + 1
    const slugs = fleet.schemaTenants.slugs

    // 2. the build's tail (autovacuum of the new catalog rows, checkpoints) is not verify's to pay;
    // a fleet grown over months has had its catalogs vacuumed and analyzed many times, one built in
    // minutes not yet: the catalogs are vacuumed and analyzed once here (BENCH_VACUUM=0: not)
    const vacuum = await waitForAutovacuum(db.server, [db.name], { timeoutMs: 300_000 })
    let vacuumMs = null
    if (process.env.BENCH_VACUUM !== '0') {
      const t0 = now()
      const { rows } = await query(
        db.url,
        `select string_agg('pg_catalog.' || quote_ident(relname), ', ') as list from pg_class where relnamespace = 'pg_catalog'::regnamespace and relkind = 'r'`,
      )
      await query(db.url, `vacuum (analyze) ${rows[0].list}`)
      vacuumMs = now() - t0
      log(`vacuumed and analyzed the catalogs in ${fmtS(vacuumMs)}`)
    }
    const quiet = await waitForQuiet({ maxLoad: Number(process.env.BENCH_MAX_LOAD ?? 1.5) })
    log(
      `settled: autovacuum ${fmtS(vacuum.ms)}${vacuum.timedOut ? ' (still running)' : ''}, load ${quiet.load.toFixed(2)} after ${fmtS(quiet.ms)}${quiet.timedOut ? ' (timed out)' : ''}`,
    )

    // (a) the whole fleet, in process
    const loadBefore = os.loadavg()[0]
    const fleetRuns = []
    for (let i = 0; i < runs; i++) {
      const r = await timedVerify(Janua, verifyFleet, ws, db.url, {})
      assertClean(`whole-fleet verify, run ${i + 1}`, r.report, expectedPlacements)
      fleetRuns.push(r)
      log(`(a) whole fleet, run ${i + 1}/${runs}: verifyFleet ${fmtS(r.verifyMs)} (${r.report.summary.placements} placements)`)
    }
    const fleetReport = fleetRuns[0].report

    // (b) the CLI, once
    const cli = await runJanuaJson(['db', 'verify', '--json'], { url: db.url, templatesDir: ws.templatesDir, cwd: ws.dir })
    if (cli.code !== 0 || cli.json.ok !== true) {
      throw new Error(`janua db verify --json exited ${cli.code} with ok = ${cli.json.ok}: ${JSON.stringify(cli.json.error ?? cli.json.summary).slice(0, 1500)}`)
    }
    if (cli.json.summary.placements < expectedPlacements)
      throw new Error(`janua db verify --json verified ${cli.json.summary.placements} placement(s), expected ${expectedPlacements}`)
    const cliStart = await runProcess(process.execPath, [JANUA_BIN, '--version'], { env: januaEnv(db.url, ws.templatesDir), cwd: ws.dir })
    log(`(b) janua db verify --json: ${fmtS(cli.ms)}, exit ${cli.code}, ok ${cli.json.ok}`)

    // (c) one tenant at a time, each a fresh Janua: a sample spread over the fleet
    const sample = Array.from({ length: sampleSize }, (_, k) => slugs[Math.floor((k * slugs.length) / sampleSize)])
    const each = []
    for (const slug of sample) {
      const r = await timedVerify(Janua, verifyFleet, ws, db.url, { tenants: [slug] })
      assertClean(`verify --tenant ${slug}`, r.report, 1)
      if (!r.report.placements.some((p) => p.tenants.includes(slug))) throw new Error(`verify --tenant ${slug} did not verify ${slug}'s placement`)
      each.push(r)
    }
    const perTenantVerify = mean(each.map((r) => r.verifyMs))
    const perTenantRun = mean(each.map((r) => r.totalMs))
    log(`(c) one tenant at a time: ${sampleSize} tenants, mean ${fmtMs(perTenantVerify)} verifyFleet, ${fmtMs(perTenantRun)} open + verify + close`)

    const cliEach = []
    for (const slug of sample.slice(0, cliSampleSize)) {
      const r = await runJanuaJson(['db', 'verify', '--tenant', slug, '--json'], { url: db.url, templatesDir: ws.templatesDir, cwd: ws.dir })
      if (r.code !== 0 || r.json.ok !== true) throw new Error(`janua db verify --tenant ${slug} --json exited ${r.code}, ok = ${r.json.ok}`)
      cliEach.push(r.ms)
    }

    // --- figures ---
    const fleetVerify = fleetRuns.map((r) => r.verifyMs)
    const fleetTotal = fleetRuns.map((r) => r.totalMs)
    const fleetVerifyMedian = median(fleetVerify)
    const fleetTotalMedian = median(fleetTotal)
    const extrapolatedVerify = perTenantVerify * schemas
    const extrapolatedRun = perTenantRun * schemas
    const cliPerTenant = cliEach.length ? mean(cliEach) : undefined
    const extrapolatedCli = cliPerTenant !== undefined ? cliPerTenant * schemas : undefined
    const worstFleet = Math.max(...fleetVerify)

    const out = []
    out.push('')
    out.push('janua verify benchmark (npm run bench -- verify)')
    out.push(`server: ${redactUrl(db.server)} (PostgreSQL ${pgVersion}), ${os.cpus().length} cores, node ${process.version}; built code from dist/`)
    out.push(
      `fleet: ${schemas} schema tenants + the shared placement = ${fleetReport.summary.placements} placements in ${db.name} ` +
        `(built through the core API in ${fmtS(fleet.schemaTenants.ms)}, ${parallelism} creates at a time)`,
    )
    out.push(
      `waited for the build's autovacuum ${fmtS(vacuum.ms)}, ${vacuumMs === null ? 'did not vacuum the catalogs (BENCH_VACUUM=0)' : `vacuumed and analyzed the catalogs (${fmtS(vacuumMs)})`}, waited for a load below ${process.env.BENCH_MAX_LOAD ?? 1.5} ${fmtS(quiet.ms)}${quiet.timedOut ? ' (timed out)' : ''}; ` +
        `load average (1 min) when the timed part began: ${loadBefore.toFixed(2)}, at its end: ${os.loadavg()[0].toFixed(2)} (other work on this machine skews the figures)`,
    )
    out.push(
      `fleet summary: ${fleetReport.summary.groups.map((g) => `${g.placements} placement(s) ${g.matchesTemplates ? `match version ${g.version}` : `differ (version ${g.version})`}`).join('; ')}`,
    )
    out.push('')
    out.push(
      table(
        ['RUN', 'PLACEMENTS', 'VERIFY', 'OPEN+VERIFY+CLOSE', 'NOTE'],
        [
          ...fleetRuns.map((r, i) => [
            `(a) verifyFleet, whole fleet, run ${i + 1}`,
            r.report.summary.placements,
            fmtS(r.verifyMs),
            fmtS(r.totalMs),
            `${i === 0 ? 'fresh Janua, cold connections' : 'fresh Janua'}; ${r.report.summary.phases.fingerprintsKept} fingerprint(s) kept from an earlier run`,
          ]),
          [
            '(b) janua db verify --json (subprocess)',
            cli.json.summary.placements,
            fmtS(cli.json.summary.durationMs),
            fmtS(cli.ms),
            `exit ${cli.code}, ok ${cli.json.ok}; wall time of the process (janua --version alone: ${fmtMs(cliStart.ms)})`,
          ],
          [
            `(c) one tenant at a time: MEASURED, ${sampleSize} tenants`,
            `${sampleSize} x 1`,
            fmtS(perTenantVerify * sampleSize),
            fmtS(perTenantRun * sampleSize),
            `mean ${fmtMs(perTenantVerify)} / ${fmtMs(perTenantRun)} per tenant`,
          ],
          [`(c) EXTRAPOLATED (linear) to ${schemas} tenants`, schemas, fmtS(extrapolatedVerify), fmtS(extrapolatedRun), ''],
          ...(cliPerTenant !== undefined
            ? [
                [
                  `(c') janua db verify --tenant <slug> --json: MEASURED, ${cliEach.length}`,
                  `${cliEach.length} x 1`,
                  '',
                  fmtS(cliPerTenant * cliEach.length),
                  `mean ${fmtMs(cliPerTenant)} per process`,
                ],
                [`(c') EXTRAPOLATED (linear) to ${schemas} tenants`, schemas, '', fmtS(extrapolatedCli), ''],
              ]
            : []),
        ],
        ['l', 'r', 'r', 'r', 'l'],
      ),
    )
    out.push('')
    // where the time goes: expected catalog (built, or read from the control-plane cache), each database's fingerprint pass, detailed diff
    const phaseRow = (label, r) => {
      const p = r.report.summary.phases
      return [
        label,
        fmtMs(p.fleetMs),
        `${fmtMs(p.expectedMs)} (${p.expectedBuilt} built, ${p.expectedCached} cached)`,
        `${fmtMs(p.fingerprintMs)} / ${p.databases} db (${p.fingerprintsKept} kept)`,
        fmtMs(p.detailMs),
        fmtMs(r.verifyMs),
      ]
    }
    out.push(
      table(
        ['PHASES', 'FLEET+HISTORIES', 'EXPECTED CATALOG', 'FINGERPRINT PASSES', 'DETAIL DIFF', 'TOTAL'],
        [...fleetRuns.map((r, i) => phaseRow(`(a) whole fleet, run ${i + 1}`, r)), phaseRow(`(c) --tenant ${sample[0]}`, each[0])],
        ['l', 'r', 'r', 'r', 'r', 'r'],
      ),
    )
    out.push('')
    const verdict = (ok) => (ok ? 'PASS' : 'FAIL')
    out.push(
      table(
        ['FIGURE', 'VALUE', 'TARGET', ''],
        [
          [`whole-fleet verifyFleet, cold (run 1: every catalog read)`, fmtS(fleetVerify[0]), `< ${fmtS(TARGET_MS)}`, verdict(fleetVerify[0] < TARGET_MS)],
          ...(runs > 1
            ? [
                [
                  `whole-fleet verifyFleet, catalog unchanged (slowest of runs 2-${runs})`,
                  fmtS(Math.max(...fleetVerify.slice(1))),
                  `< ${fmtS(TARGET_MS)}`,
                  verdict(Math.max(...fleetVerify.slice(1)) < TARGET_MS),
                ],
              ]
            : []),
          ...(cliPerTenant !== undefined ? [['janua db verify --tenant <slug> (CLI wall time, mean)', fmtMs(cliPerTenant), '< 500 ms', verdict(cliPerTenant < 500)]] : []),
          ['verifyFleet --tenant (in process, mean)', fmtMs(perTenantVerify), '', ''],
          ['whole-fleet janua db verify (CLI wall time, after (a))', fmtS(cli.ms), `< ${fmtS(TARGET_MS)}`, verdict(cli.ms < TARGET_MS)],
          ['one at a time / whole fleet (verifyFleet, median)', `${(extrapolatedVerify / fleetVerifyMedian).toFixed(1)}x`, '', ''],
          ['one at a time / whole fleet (open+verify+close, median)', `${(extrapolatedRun / fleetTotalMedian).toFixed(1)}x`, '', ''],
          ...(extrapolatedCli !== undefined ? [['CLI per tenant / CLI whole fleet', `${(extrapolatedCli / cli.ms).toFixed(1)}x`, '', '']] : []),
        ],
        ['l', 'r', 'r', 'l'],
      ),
    )
    out.push('')
    out.push(
      '(c) is verifyFleet with tenants: [slug] on a fresh Janua per tenant: each run builds the expected catalog, lists the fleet and reads one schema. ' +
        'Extrapolation is linear in the number of tenants.',
    )
    out.push('')
    console.log(out.join('\n'))

    const json = {
      bench: 'verify',
      server: redactUrl(db.server),
      postgres: pgVersion,
      cores: os.cpus().length,
      node: process.version,
      fleet: { schemaTenants: schemas, placements: fleetReport.summary.placements, buildMs: round(fleet.schemaTenants.ms), groups: fleetReport.summary.groups },
      wholeFleet: {
        runs: fleetRuns.map((r) => ({
          verifyMs: round(r.verifyMs),
          openVerifyCloseMs: round(r.totalMs),
          reportedMs: r.report.summary.durationMs,
          phases: r.report.summary.phases,
        })),
        verifyMedianMs: round(fleetVerifyMedian),
        verifyMaxMs: round(worstFleet),
        openVerifyCloseMedianMs: round(fleetTotalMedian),
      },
      cli: {
        ms: round(cli.ms),
        reportedMs: cli.json.summary.durationMs,
        exitCode: cli.code,
        ok: cli.json.ok,
        placements: cli.json.summary.placements,
        versionOnlyMs: round(cliStart.ms),
      },
      oneAtATime: {
        sample: sampleSize,
        perTenantVerifyMs: round(perTenantVerify, 2),
        perTenantOpenVerifyCloseMs: round(perTenantRun, 2),
        sampleVerifyMs: round(perTenantVerify * sampleSize),
        extrapolatedVerifyMs: round(extrapolatedVerify),
        extrapolatedOpenVerifyCloseMs: round(extrapolatedRun),
        cli: cliPerTenant !== undefined ? { sample: cliEach.length, perTenantMs: round(cliPerTenant, 1), extrapolatedMs: round(extrapolatedCli) } : undefined,
      },
      ratios: {
        oneAtATimeOverFleet_verify: round(extrapolatedVerify / fleetVerifyMedian, 2),
        oneAtATimeOverFleet_openVerifyClose: round(extrapolatedRun / fleetTotalMedian, 2),
        cli: extrapolatedCli !== undefined ? round(extrapolatedCli / cli.ms, 2) : undefined,
      },
      loadavg1: { start: round(loadBefore, 2), end: round(os.loadavg()[0], 2) },
      settled: { autovacuumMs: round(vacuum.ms), catalogVacuumMs: vacuumMs === null ? null : round(vacuumMs), quietMs: round(quiet.ms), quietTimedOut: quiet.timedOut },
      targetMs: TARGET_MS,
      pass: { core: worstFleet < TARGET_MS, cli: cli.ms < TARGET_MS },
    }
    console.log(`BENCH_JSON ${JSON.stringify(json)}`)
  } finally {
    await runCleanups()
  }
}
