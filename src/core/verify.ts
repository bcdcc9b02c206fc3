import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import { diffCatalogs } from '../catalog/diff.js'
import { isIgnored, type Finding } from '../catalog/findings.js'
import { lintCatalog } from '../catalog/lint.js'
import { tenantRoleFindings } from './tenant-access.js'
import { CATALOG_FORMAT, catalogs, fingerprints, fingerprintsInParts, type Catalog, type CatalogObject } from '../catalog/snapshot.js'
import { endQuietly, inTransaction, withClient } from '../db/connection.js'
import { redactAll } from '../db/redact.js'
import type { IsolationLevel } from '../db/schema.js'
import { ident, validateSlug } from '../sql/ident.js'
import { applyFile, ensureHistoryTable } from './apply.js'
import type { Janua } from './context.js'
import { createPlacementSchema, ensureAppRole, requireControlPlane } from './control-plane.js'
import { usageError } from './errors.js'
import { forEachLimit, groupByDatabase, listFleet, readVersions, type FleetPlacement, ownsDatabase } from './fleet.js'
import { TENANT_SCHEMA_PREFIX, describePlacement, serverSharedDatabase, templateDatabase, type Placement } from './placement.js'
import { filesUpTo, sha256, type TemplateFile } from './templates.js'
import { listLeftovers, type Leftover } from './leftovers.js'
import { driverFor, driverForLeftover } from './isolation/index.js'
import { moveObjectsIn, strayMoveObjects } from './move/strays.js'
import { tenantIdsIn, unplacedTenantRows } from './tenant-ids.js'
import { validateIsolation } from './tenants.js'
import { requireKnownServer } from './known-server.js'
import { forgetFingerprints, openFingerprintCache } from './fingerprint-cache.js'

export interface VerifyOptions {
  tenants?: string[]
  isolation?: string
  server?: string
  ignore?: string[]
  concurrency?: number
}

export interface PlacementVerdict {
  placement: Placement
  kind: IsolationLevel | 'template' | 'orphan' | 'server' | 'leftover'
  tenants: string[]
  version: number | null
  /** the PostgreSQL version of the placement's server, e.g. "18.4" */
  serverVersion: string | null
  fingerprint: string | null
  /** the fingerprint the templates give at this version (on a server of the same major version) */
  expectedFingerprint: string | null
  findings: Finding[]
}

export interface VerifyReport {
  ok: boolean
  summary: {
    placements: number
    clean: number
    withFindings: number
    findings: number
    groups: { fingerprint: string | null; version: number | null; placements: number; matchesTemplates: boolean }[]
    durationMs: number
    /**
     * Where the time went (ms): listing the fleet and reading histories; building (or reading
     * from the cache) the expected catalogs; the fingerprint passes (catalog token, kept
     * fingerprints, fresh reads), summed over databases; the
     * detailed reads and diffs of placements whose fingerprint differed.
     */
    phases: {
      fleetMs: number
      expectedMs: number
      expectedCached: number
      expectedBuilt: number
      fingerprintMs: number
      /** schemas whose fingerprint was kept from an earlier run (their database's catalog unchanged since) */
      fingerprintsKept: number
      detailMs: number
      databases: number
    }
  }
  placements: PlacementVerdict[]
}

export interface Expected {
  catalog: Catalog
  fingerprint: string
  lint: Finding[]
}

/**
 * The catalog the templates declare at a version, on a server of one major version (PostgreSQL 18
 * records NOT NULL as constraints, for instance): applied to a scratch schema in a transaction
 * that is rolled back.
 */
export async function expectedCatalog(janua: Janua, version: number, pool: pg.Pool = janua.conn.primaryPool()): Promise<Expected> {
  return scratchCatalog(janua, filesUpTo(janua.templates, version), pool, { where: `expected catalog at version ${version}` })
}

/**
 * Template files applied to a scratch schema janua_verify_<random>, read, and thrown away (a
 * rolled-back transaction; with a no-transaction file: built, read, dropped). createAppRole: the
 * app role is created first when missing (`templates check` on a server without a control plane;
 * inside the rolled-back transaction unless a file is no-transaction).
 */
export async function scratchCatalog(janua: Janua, files: TemplateFile[], pool: pg.Pool, options: { where: string; createAppRole?: boolean }): Promise<Expected> {
  const scratch = `janua_verify_${randomBytes(6).toString('hex')}`
  const where = options.where
  return withClient(pool, async (client) => {
    const snapshot = async (inTransaction: boolean) => {
      const catalog = (await catalogs(client, [scratch], janua.appRole, { inTransaction })).get(scratch)!
      const fingerprint = (await fingerprints(client, [scratch], janua.appRole, { inTransaction })).get(scratch)!
      return { catalog, fingerprint, lint: lintCatalog(catalog, janua.appRole) }
    }
    const build = async () => {
      if (options.createAppRole) await ensureAppRole(client, janua.appRole)
      await createPlacementSchema(client, scratch, janua.appRole)
      await ensureHistoryTable(client, scratch)
    }
    if (!files.some((f) => f.noTransaction)) {
      let result: Expected | undefined
      await client.query('begin')
      try {
        await build()
        for (const file of files) await applyFile(client, scratch, file, where, false)
        result = await snapshot(true)
      } finally {
        await client.query('rollback')
      }
      return result
    }
    // A no-transaction file cannot run inside the rolled-back transaction: build, read, drop.
    try {
      await inTransaction(client, build)
      for (const file of files) await applyFile(client, scratch, file, where)
      return await snapshot(false)
    } finally {
      await client.query(`drop schema if exists ${ident(scratch)} cascade`)
    }
  })
}

/** An expected catalog's fingerprint and lint; the catalog itself is read only for a placement that differs. */
interface ExpectedSummary {
  fingerprint: string
  lint: Finding[]
  catalog: () => Promise<Catalog>
}

/**
 * The expected catalog from janua.expected_catalogs (control-plane step 3) when one was built
 * for the same template files, server major version, app role and catalog format; else built and
 * stored. Without the table (a control plane not yet upgraded) nothing is cached. A kept catalog
 * (~100 KB of JSON for the default templates: 10-20 ms) is fetched only when a placement differs.
 */
async function cachedExpected(janua: Janua, version: number, major: number, build: () => Promise<Expected>): Promise<{ expected: ExpectedSummary; cached: boolean }> {
  const files = filesUpTo(janua.templates, version)
  const key = sha256(JSON.stringify([CATALOG_FORMAT, janua.appRole, major, files.map((f) => [f.name, f.sha256])]))
  const pool = janua.conn.primaryPool()
  const stored = await withClient(pool, async (c) => {
    const { rows } = await c.query<{ present: boolean }>(`select to_regclass('janua.expected_catalogs') is not null as present`)
    if (!rows[0]!.present) return { table: false }
    const hit = await c.query<{ fingerprint: string; lint: Finding[] }>('select fingerprint, lint from janua.expected_catalogs where key = $1', [key])
    return { table: true, row: hit.rows[0] }
  })
  if (stored.row) {
    let catalog: Promise<Catalog> | undefined
    const readCatalog = async (): Promise<Catalog> => {
      const { rows } = await withClient(pool, (c) => c.query<{ catalog: [string, CatalogObject][] }>('select catalog from janua.expected_catalogs where key = $1', [key]))
      // a row removed since (the cache emptied by hand): the same files give the same catalog
      return rows[0] ? new Map(rows[0].catalog) : (await build()).catalog
    }
    return { expected: { fingerprint: stored.row.fingerprint, lint: stored.row.lint, catalog: () => (catalog ??= readCatalog()) }, cached: true }
  }
  const expected = await build()
  if (stored.table) {
    await withClient(pool, (c) =>
      c.query(`insert into janua.expected_catalogs (key, server_major, version, fingerprint, catalog, lint) values ($1, $2, $3, $4, $5, $6) on conflict (key) do nothing`, [
        key,
        major,
        version,
        expected.fingerprint,
        JSON.stringify([...expected.catalog]),
        JSON.stringify(expected.lint),
      ]),
    )
  }
  return { expected: { fingerprint: expected.fingerprint, lint: expected.lint, catalog: async () => expected.catalog }, cached: false }
}

interface ServerVersion {
  /** e.g. "18.4" */
  version: string
  major: number
}

async function readServerVersion(client: pg.ClientBase): Promise<ServerVersion> {
  const { rows } = await client.query<{ num: string; version: string }>(`select current_setting('server_version_num') as num, current_setting('server_version') as version`)
  return { version: rows[0]!.version.split(' ')[0]!, major: Math.floor(Number(rows[0]!.num) / 10000) }
}

/** Up to this many schemas of a database, fingerprints are read without the cache. */
const READ_DIRECTLY = 8

const finding = (code: string, change: Finding['change'], object: string, message: string, extra: Partial<Finding> = {}): Finding => ({ code, change, object, message, ...extra })

/** `janua db verify`: every placement against the templates, isolation lint, fleet consistency. Read-only. */
export async function verifyFleet(janua: Janua, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = Date.now()
  const phases: VerifyReport['summary']['phases'] = {
    fleetMs: 0,
    expectedMs: 0,
    expectedCached: 0,
    expectedBuilt: 0,
    fingerprintMs: 0,
    fingerprintsKept: 0,
    detailMs: 0,
    databases: 0,
  }
  const tenants = (options.tenants ?? []).map((t) => validateSlug(t))
  const isolation = options.isolation ? validateIsolation(options.isolation) : undefined
  if (options.server) await requireKnownServer(janua, options.server)
  const ignore = options.ignore ?? []
  for (const code of ignore)
    if (!/^(drift|lint|fleet)(\/[a-z-]+)?$/.test(code))
      throw usageError(`unknown finding code "${code}" for --ignore`, 'codes look like lint/index-not-tenant-led, drift/grant, fleet/orphan, or a family: lint')
  const cpId = await requireControlPlane(janua)
  const concurrency = options.concurrency ?? 4
  const filtered = tenants.length > 0 || !!isolation || !!options.server

  const fleet = await listFleet(janua, cpId, { tenants, isolation, server: options.server })
  if (tenants.length) {
    const known = new Set(fleet.flatMap((p) => p.tenants))
    const missing = tenants.filter((t) => !known.has(t))
    if (missing.length) throw usageError(`no tenant ${missing.map((m) => `"${m}"`).join(', ')}`, 'list tenants with `janua tenant list`')
  }
  const verdicts: PlacementVerdict[] = []
  const verdictOf = new Map<FleetPlacement, PlacementVerdict>()
  for (const p of fleet) {
    const v: PlacementVerdict = {
      placement: p.placement,
      kind: p.kind,
      tenants: p.tenants,
      version: null,
      serverVersion: null,
      fingerprint: null,
      expectedFingerprint: null,
      findings: [],
    }
    verdicts.push(v)
    verdictOf.set(p, v)
  }

  // Databases that are gone are reported as such, not as unreachable servers.
  const servers = [...new Set(fleet.map((p) => p.placement.server))]
  const databasesOn = new Map<string, Set<string> | Error>()
  const appRoleOn = new Map<string, { rolsuper: boolean; rolbypassrls: boolean } | undefined>()
  const publicConnect = new Map<string, boolean>()
  const versionOf = new Map<string, ServerVersion>()
  const primaryVersion = withClient(janua.conn.primaryPool(), readServerVersion)
  await Promise.all(
    servers.map(async (server) => {
      try {
        const pool = await janua.conn.adminPool(server)
        await withClient(pool, async (c) => {
          versionOf.set(server, await readServerVersion(c))
          const { rows } = await c.query<{ datname: string; public_connect: boolean }>(
            `select datname, has_database_privilege('public', datname, 'CONNECT') as public_connect from pg_database`,
          )
          databasesOn.set(server, new Set(rows.map((r) => r.datname)))
          for (const r of rows) publicConnect.set(`${server}\u0000${r.datname}`, r.public_connect)
          const role = await c.query<{ rolsuper: boolean; rolbypassrls: boolean }>('select rolsuper, rolbypassrls from pg_roles where rolname = $1', [janua.appRole])
          appRoleOn.set(server, role.rows[0])
        })
      } catch (error) {
        databasesOn.set(server, error as Error)
      }
    }),
  )

  const readable: FleetPlacement[] = []
  for (const p of fleet) {
    const dbs = databasesOn.get(p.placement.server)
    if (dbs instanceof Error) {
      verdictOf.get(p)!.findings.push(finding('fleet/unreachable', 'missing', 'server', `server ${p.placement.server} is unreachable: ${redactAll(dbs.message)}`))
    } else if (!dbs!.has(p.placement.database)) {
      verdictOf.get(p)!.findings.push(finding('fleet/placement-missing', 'missing', `database ${p.placement.database}`, `database ${p.placement.database} does not exist`))
    } else readable.push(p)
  }

  const versions = await readVersions(janua, readable, concurrency)
  phases.fleetMs = Date.now() - started
  const present: FleetPlacement[] = []
  for (const p of readable) {
    const h = versions.get(p)!
    const v = verdictOf.get(p)!
    if (h.error) {
      const code = /does not exist/.test(h.error.message) ? 'fleet/placement-missing' : 'fleet/unreachable'
      v.findings.push(finding(code, 'missing', `schema ${p.placement.schema}`, h.error.message))
      continue
    }
    v.version = h.version
    if (p.placementId && v.version !== p.recordedVersion) {
      v.findings.push(
        finding('fleet/version-mismatch', 'different', 'version', `the control plane records version ${p.recordedVersion}, the placement's history says ${v.version}`, {
          expected: String(p.recordedVersion),
          actual: String(v.version),
        }),
      )
    }
    present.push(p)
  }

  // One expected catalog per template version and server major version, built on the primary
  // when it runs that major, else on the placement's own server (in the database being read).
  const primaryMajor = (await primaryVersion).major
  const expectedBy = new Map<string, Promise<ExpectedSummary>>()
  const expected = async (version: number, placement: Placement) => {
    const major = versionOf.get(placement.server)!.major
    const key = `${version}:${major}`
    if (!expectedBy.has(key)) {
      expectedBy.set(
        key,
        (async () => {
          const t0 = Date.now()
          const build = async () =>
            expectedCatalog(janua, version, major === primaryMajor ? janua.conn.primaryPool() : await janua.conn.serverPool(placement.server, placement.database))
          const result = await cachedExpected(janua, version, major, build)
          phases.expectedMs += Date.now() - t0
          if (result.cached) phases.expectedCached++
          else phases.expectedBuilt++
          return result.expected
        })(),
      )
    }
    return expectedBy.get(key)!
  }
  for (const p of present) verdictOf.get(p)!.serverVersion = versionOf.get(p.placement.server)!.version

  // Who may have rows or move objects where: tenants placed there, kept sources, running moves.
  // A --tenant run needs only its placements' tenants (rowsAllowed, which needs them all, is not asked then).
  // Read from the control plane while the placements' catalogs are read (each database's read needs
  // it only after its fingerprints), like the tenant roles' findings: a --tenant run waits for the
  // slowest of them, not for their sum.
  const whereaboutsRead = tenantWhereabouts(janua, tenants.length ? fleet.flatMap((p) => (p.placementId ? [p.placementId] : [])) : undefined)
  const roleFindingsRead = tenantRoleFindings(janua, cpId, new Set(fleet.flatMap((p) => p.tenants)))
  const extra: PlacementVerdict[] = []

  /**
   * Kept fingerprints where the database's catalog is unchanged since they were read; the rest read
   * now, and kept. A handful of schemas is read directly: the catalog token is one pass over the
   * whole database's catalogs, which costs more than reading a few schemas (measured in docs/design.md).
   */
  const readFingerprints = async (client: pg.ClientBase, pool: pg.Pool | undefined, where: { server: string; database: string }, schemas: string[]) => {
    if (schemas.length <= READ_DIRECTLY) return fingerprintsInParts(client, pool, schemas, janua.appRole)
    const cache = await openFingerprintCache(janua, client, where, pool)
    const prints = new Map<string, string>()
    const missing: string[] = []
    for (const schema of schemas) {
      const kept = cache.kept(schema)
      if (kept === undefined) missing.push(schema)
      else prints.set(schema, kept)
    }
    phases.fingerprintsKept += schemas.length - missing.length
    if (missing.length) {
      const fresh = await fingerprintsInParts(client, pool, missing, janua.appRole)
      for (const [schema, print] of fresh) prints.set(schema, print)
      await cache.keep(fresh)
    }
    return prints
  }

  // One catalog pass per database: fingerprints for all its schemas, details only where they differ.
  const databasesRead = forEachLimit(groupByDatabase(present), concurrency, async (group) => {
    const { server, database } = group[0]!.placement
    const read = async (client: pg.ClientBase, pool?: pg.Pool) => {
      const schemas = group.map((p) => p.placement.schema)
      // The expected catalogs (shared by every group) are built or fetched while this database is read.
      const wanted = Promise.all(group.map((p) => expected(verdictOf.get(p)!.version!, p.placement)))
      const t0 = Date.now()
      const [prints, wants] = await Promise.all([
        readFingerprints(client, pool, { server, database }, schemas).finally(() => {
          phases.fingerprintMs += Date.now() - t0
        }),
        wanted,
      ])
      phases.databases++
      const whereabouts = await whereaboutsRead
      // A --tenant run looks for stray triggers on its own placements' tables only.
      extra.push(...(await moveLeftoversIn(client, server, database, whereabouts, tenants.length ? schemas : undefined)))
      // Rows of a tenant that does not live in a shared placement: written by a stale application, or left by hand.
      if (!tenants.length) {
        for (const p of group.filter((x) => x.kind !== 'template' && driverFor(x.kind).sharesPlacement)) {
          const expectedIds = whereabouts.rowsAllowed(p.placement)
          for (const { table, tenantIds } of unplacedTenantRows(await tenantIdsIn(client, p.placement.schema), expectedIds)) {
            verdictOf
              .get(p)!
              .findings.push(
                finding(
                  'fleet/unplaced-rows',
                  'unexpected',
                  `table ${table}`,
                  `${table} holds rows of ${tenantIds.length} tenant id(s) not placed in ${describePlacement(p.placement)} (${tenantIds.slice(0, 3).join(', ')}${tenantIds.length > 3 ? ', ...' : ''}): nobody reads them`,
                  { actual: tenantIds.join(', ') },
                ),
              )
          }
        }
      }
      const differing: FleetPlacement[] = []
      for (const [i, p] of group.entries()) {
        const v = verdictOf.get(p)!
        const want = wants[i]!
        v.fingerprint = prints.get(p.placement.schema) ?? null
        v.expectedFingerprint = want.fingerprint
        if (v.fingerprint === want.fingerprint) v.findings.push(...want.lint)
        else differing.push(p)
      }
      if (differing.length) {
        const t1 = Date.now()
        const details = await catalogs(
          client,
          differing.map((p) => p.placement.schema),
          janua.appRole,
        )
        for (const p of differing) {
          const v = verdictOf.get(p)!
          const actual = details.get(p.placement.schema)!
          const where = `on server ${server} (PostgreSQL ${v.serverVersion})`
          // A placement of its own whose tenant is suspended with --no-read lacks the app role's USAGE by design.
          const noRead = p.kind !== 'template' && !driverFor(p.kind).sharesPlacement && whereabouts.suspendedNoRead(p.placement)
          const drift = diffCatalogs(await (await expected(v.version!, p.placement)).catalog(), actual)
            .filter((f) => !(noRead && isNoReadSchema(f)))
            .map((f) => ({
              ...f,
              server,
              serverVersion: v.serverVersion!,
              message: `${f.message} ${where}`,
            }))
          v.findings.push(...drift, ...lintCatalog(actual, janua.appRole))
        }
        phases.detailMs += Date.now() - t1
      }
    }
    try {
      if (group.length === 1 && ownsDatabase(group[0]!)) {
        const client = await janua.conn.dedicatedClient(server, database)
        try {
          await read(client)
        } finally {
          // The catalog was read (or its error is reported below): a failing close changes neither.
          await endQuietly(client)
        }
      } else {
        const pool = await janua.conn.serverPool(server, database)
        await withClient(pool, (client) => read(client, pool))
      }
    } catch (error) {
      for (const p of group)
        verdictOf.get(p)!.findings.push(finding('fleet/unreachable', 'missing', 'catalog', `could not read ${server}/${database}: ${redactAll((error as Error).message)}`))
    }
  })
  const [whereabouts, roleFindings] = await Promise.all([whereaboutsRead, roleFindingsRead, databasesRead])

  for (const p of present) {
    if (ownsDatabase(p) && publicConnect.get(`${p.placement.server}\u0000${p.placement.database}`)) {
      verdictOf
        .get(p)!
        .findings.push(
          finding('lint/public-connect', 'different', `database ${p.placement.database}`, `PUBLIC may connect to ${p.placement.database}`, { actual: 'CONNECT granted to PUBLIC' }),
        )
    }
  }

  for (const server of servers) {
    const role = appRoleOn.get(server)
    const v: PlacementVerdict = {
      placement: { server, database: '*', schema: '*' },
      kind: 'server',
      tenants: [],
      version: null,
      serverVersion: versionOf.get(server)?.version ?? null,
      fingerprint: null,
      expectedFingerprint: null,
      findings: [],
    }
    if (role?.rolsuper)
      v.findings.push(finding('lint/app-role-superuser', 'different', `role ${janua.appRole}`, `the app role ${janua.appRole} is a superuser: RLS does not apply to it`))
    if (role?.rolbypassrls) v.findings.push(finding('lint/app-role-bypassrls', 'different', `role ${janua.appRole}`, `the app role ${janua.appRole} has BYPASSRLS`))
    if (v.findings.length) verdicts.push(v)
  }

  // Tenant login roles (issue 13): one that reaches beyond its placement is a finding on that placement.
  for (const r of roleFindings) {
    const v = verdicts.find((x) => x.tenants.includes(r.slug) && x.placement.server === r.placement.server && x.placement.database === r.placement.database)
    if (v) v.findings.push(...r.findings)
  }
  verdicts.push(...extra)
  // Recorded leftovers (kept sources, aborted-move targets) are reported as such, never as orphans to drop by hand.
  const leftovers = whereabouts.leftovers.filter((l) => (!options.server || l.placement.server === options.server) && (!tenants.length || tenants.includes(l.tenantSlug ?? '')))
  const recorded = (p: Placement) =>
    leftovers.some((l) => l.placement.server === p.server && l.placement.database === p.database && (p.schema === '*' || l.placement.schema === p.schema))
  if (!filtered) {
    verdicts.push(...(await orphans(janua, cpId, fleet, databasesOn)).filter((v) => !recorded(v.placement)))
    await forgetFingerprints(
      janua,
      present.map((p) => p.placement),
    )
  }
  verdicts.push(...leftovers.map(leftoverVerdict))

  for (const v of verdicts) v.findings = v.findings.filter((f) => !isIgnored(f.code, ignore))
  const withFindings = verdicts.filter((v) => v.findings.length > 0)
  const groupsByPrint = new Map<string, { fingerprint: string | null; version: number | null; placements: number; matchesTemplates: boolean }>()
  for (const v of verdicts.filter((x) => x.kind !== 'server' && x.kind !== 'orphan' && x.kind !== 'leftover')) {
    // A fingerprint differs from the expected one also when raw catalog fields differ but the
    // definitions do not (e.g. an index recreated by hand, identically): no drift finding, a match.
    const matches = v.fingerprint !== null && !v.findings.some((f) => f.code.startsWith('drift/') || f.code.startsWith('fleet/'))
    const key = `${v.fingerprint}\u0000${v.version}\u0000${matches}`
    const g = groupsByPrint.get(key) ?? { fingerprint: v.fingerprint, version: v.version, placements: 0, matchesTemplates: matches }
    g.placements++
    groupsByPrint.set(key, g)
  }
  return {
    ok: withFindings.length === 0,
    summary: {
      placements: verdicts.filter((x) => x.kind !== 'server' && x.kind !== 'orphan' && x.kind !== 'leftover').length,
      clean: verdicts.filter((x) => x.kind !== 'server' && x.kind !== 'orphan' && x.kind !== 'leftover' && x.findings.length === 0).length,
      withFindings: withFindings.length,
      findings: withFindings.reduce((n, v) => n + v.findings.length, 0),
      groups: [...groupsByPrint.values()].sort((a, b) => b.placements - a.placements),
      durationMs: Date.now() - started,
      phases,
    },
    placements: verdicts,
  }
}

interface Whereabouts {
  running: string[]
  kept: string[]
  /** every recorded leftover (kept sources, aborted-move targets) */
  leftovers: Leftover[]
  rowsAllowed(placement: Placement): string[]
  /** a tenant placed there is suspended with --no-read (the app role lost USAGE on purpose) */
  suspendedNoRead(placement: Placement): boolean
}

/** The one difference a --no-read suspension makes to its tenant's own schema: the app role's USAGE. */
const isNoReadSchema = (f: Finding) => f.code === 'drift/schema' && f.change === 'different' && f.expected?.replace('app-usage=true', 'app-usage=false') === f.actual

/** Tenant ids by where their rows may be: placed there, kept there (--keep-source), or moving in or out. */
async function tenantWhereabouts(janua: Janua, onlyPlacements?: string[]): Promise<Whereabouts> {
  const key = (p: Placement) => `${p.server}\u0000${p.database}\u0000${p.schema}`
  const allowed = new Map<string, string[]>()
  const allow = (p: Placement, id: string) => allowed.set(key(p), [...(allowed.get(key(p)) ?? []), id])
  let placedQuery = janua.db
    .selectFrom('janua.tenants as t')
    .innerJoin('janua.placements as p', 'p.id', 't.placement_id')
    .select(['t.id', 't.suspension', 'p.server', 'p.database', 'p.schema'])
  if (onlyPlacements?.length) placedQuery = placedQuery.where('p.id', 'in', onlyPlacements)
  const placed = await placedQuery.execute()
  for (const t of placed) allow(t, t.id)
  const noRead = new Set(placed.filter((t) => t.suspension?.mode === 'no-read').map((t) => key(t)))
  const moves = await janua.db.selectFrom('janua.operations').select(['tenant_id', 'detail']).where('kind', '=', 'tenant.move').where('status', '=', 'running').execute()
  for (const m of moves) {
    const to = (m.detail as { plan?: { to?: { placement?: Placement } } }).plan?.to?.placement
    if (to && m.tenant_id) allow(to, m.tenant_id)
  }
  const kept = await listLeftovers(janua)
  for (const l of kept) if (l.tenantId) allow(l.placement, l.tenantId)
  return {
    running: moves.map((m) => m.tenant_id!).filter(Boolean),
    kept: kept.map((l) => l.tenantId!).filter(Boolean),
    leftovers: kept,
    rowsAllowed: (p) => allowed.get(key(p)) ?? [],
    suspendedNoRead: (p) => noRead.has(key(p)),
  }
}

const STRAY = {
  'fence-trigger': { code: 'fleet/stray-fence', why: "it refuses a tenant's writes" },
  'capture-trigger': { code: 'fleet/stray-capture', why: 'it slows every write of its table, and a log grows' },
  'capture-log': { code: 'fleet/stray-capture', why: 'it slows every write of its table, and a log grows' },
  'capture-slot': { code: 'fleet/stray-slot', why: 'it keeps every WAL segment from being recycled until the disk fills' },
  'capture-publication': { code: 'fleet/stray-publication', why: 'it makes its tables publish changes nobody reads' },
} as const

/** Capture logs, triggers, slots and publications, and fence triggers, that belong to no running move and no kept source. */
async function moveLeftoversIn(client: pg.ClientBase, server: string, database: string, w: Whereabouts, schemas?: string[]): Promise<PlacementVerdict[]> {
  return strayMoveObjects(await moveObjectsIn(client, schemas), w.running, w.kept).map((o) => {
    const { code, why } = STRAY[o.kind]
    return {
      placement: { server, database, schema: o.object.includes('.') ? o.object.split('.')[0]! : '' },
      kind: 'leftover',
      tenants: [],
      version: null,
      serverVersion: null,
      fingerprint: null,
      expectedFingerprint: null,
      findings: [
        finding(code, 'unexpected', o.object, `${o.object} belongs to no running move (${why}); a --resume or --abort of that tenant's move removes it, or drop it by hand`),
      ],
    }
  })
}

/** A recorded leftover: data janua kept or could not remove; `janua tenant cleanup` removes it. */
function leftoverVerdict(l: Leftover): PlacementVerdict {
  const code = l.kind === 'kept-source' ? 'fleet/kept-source' : 'fleet/move-leftover'
  const what = l.what === 'rows' ? `rows and write fence of ${l.tenantSlug}` : `${l.what} ${driverForLeftover(l.what).ownsDatabase ? l.placement.database : l.placement.schema}`
  const message = `${what} ${l.kind === 'kept-source' ? 'kept by --keep-source' : 'left by an aborted move'}${l.error ? ` (${l.error})` : ''}; remove with: janua tenant cleanup ${l.tenantSlug}`
  return {
    placement: l.placement,
    kind: 'leftover',
    tenants: l.tenantSlug ? [l.tenantSlug] : [],
    version: null,
    serverVersion: null,
    fingerprint: null,
    expectedFingerprint: null,
    findings: [finding(code, 'unexpected', what, message)],
  }
}

/** Schemas and databases named like a tenant's that no placement claims. */
async function orphans(janua: Janua, cpId: string, fleet: FleetPlacement[], databasesOn: Map<string, Set<string> | Error>): Promise<PlacementVerdict[]> {
  const result: PlacementVerdict[] = []
  const claimed = new Set(fleet.map((p) => `${p.placement.server}\u0000${p.placement.database}\u0000${p.placement.schema}`))
  const claimedDbs = new Set(fleet.map((p) => `${p.placement.server}\u0000${p.placement.database}`))
  const orphan = (placement: Placement, object: string): PlacementVerdict => ({
    placement,
    kind: 'orphan',
    tenants: [],
    version: null,
    serverVersion: null,
    fingerprint: null,
    expectedFingerprint: null,
    findings: [finding('fleet/orphan', 'unexpected', object, `${object} looks like a tenant's but belongs to no tenant`)],
  })
  const { rows } = await withClient(janua.conn.primaryPool(), (c) =>
    c.query<{ nspname: string }>(`select nspname from pg_namespace where nspname like $1`, [`${TENANT_SCHEMA_PREFIX.replace('_', '\\_')}%`]),
  )
  for (const r of rows) {
    const placement = { server: 'primary', database: janua.conn.primaryDatabase, schema: r.nspname }
    if (!claimed.has(`primary\u0000${placement.database}\u0000${r.nspname}`)) result.push(orphan(placement, `schema ${r.nspname}`))
  }
  const reserved = new Set([templateDatabase(cpId), serverSharedDatabase(cpId)])
  for (const [server, dbs] of databasesOn) {
    if (dbs instanceof Error) continue
    for (const name of dbs) {
      if (name.startsWith(`janua_${cpId}_`) && !reserved.has(name) && !claimedDbs.has(`${server}\u0000${name}`)) {
        result.push(orphan({ server, database: name, schema: '*' }, `database ${name}`))
      }
    }
  }
  return result
}
