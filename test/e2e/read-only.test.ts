import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONTROL_PLANE_STEPS } from '../../src/sql/control-plane.js'
import { runCli, type CliResult } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { copyTemplates } from '../helpers/templates.js'

/**
 * Issue 9 items 2 and 6: read-only commands and every --dry-run change nothing, on any database
 * the control plane owns or touches. Each command runs between two snapshots of the catalogs of
 * every such database (and the server-wide pg_database and role entries janua uses); the two
 * must be byte-identical.
 */

const APP_ROLE = 'janua_app'

/** The catalog of one database, as text: every object janua creates or could create, without OIDs. */
const CATALOG_QUERIES: Record<string, string> = {
  namespaces: `select nspname, pg_get_userbyid(nspowner) as owner, nspacl::text as acl from pg_namespace n where ${userSchema('n.nspname')} order by 1`,
  relations: `select n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner) as owner, c.relacl::text as acl, c.relpersistence, c.reloptions::text as options,
                     c.relrowsecurity, c.relforcerowsecurity, c.relispartition
                from pg_class c join pg_namespace n on n.oid = c.relnamespace where ${userSchema('n.nspname')} order by 1, 2`,
  attributes: `select n.nspname, c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull, a.attisdropped, a.attidentity, a.attgenerated,
                      pg_get_expr(d.adbin, d.adrelid) as default, a.attacl::text as acl
                 from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
                 left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
                where a.attnum > 0 and ${userSchema('n.nspname')} order by 1, 2, 3`,
  constraints: `select n.nspname, coalesce(c.relname, '') as relname, k.conname, k.contype, pg_get_constraintdef(k.oid) as definition, k.convalidated
                  from pg_constraint k join pg_namespace n on n.oid = k.connamespace left join pg_class c on c.oid = k.conrelid
                 where ${userSchema('n.nspname')} order by 1, 2, 3`,
  indexes: `select schemaname, tablename, indexname, indexdef from pg_indexes where ${userSchema('schemaname')} order by 1, 2, 3`,
  triggers: `select n.nspname, c.relname, t.tgname, t.tgenabled, pg_get_triggerdef(t.oid) as definition
               from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
              where ${userSchema('n.nspname')} order by 1, 2, 3`,
  functions: `select n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) as args, p.prokind, md5(p.prosrc) as body, p.prosecdef, p.proconfig::text as config,
                     pg_get_userbyid(p.proowner) as owner, p.proacl::text as acl
                from pg_proc p join pg_namespace n on n.oid = p.pronamespace where ${userSchema('n.nspname')} order by 1, 2, 3`,
  policies: `select schemaname, tablename, policyname, permissive, roles::text, cmd, qual, with_check from pg_policies where ${userSchema('schemaname')} order by 1, 2, 3`,
  types: `select n.nspname, t.typname, t.typtype from pg_type t join pg_namespace n on n.oid = t.typnamespace where ${userSchema('n.nspname')} order by 1, 2`,
  extensions: `select extname, extversion from pg_extension order by 1`,
  defaultPrivileges: `select pg_get_userbyid(defaclrole) as role, defaclnamespace::regnamespace::text as schema, defaclobjtype, defaclacl::text as acl from pg_default_acl order by 1, 2, 3`,
}

function userSchema(column: string): string {
  return `${column} not in ('pg_catalog', 'information_schema') and ${column} not like 'pg\\_toast%' and ${column} not like 'pg\\_temp\\_%'`
}

/** Runs fn on a connection of its own (one per database per snapshot: a new session costs a scram handshake and a backend). */
async function connected<T>(config: pg.ClientConfig, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(config)
  client.on('error', () => {})
  await client.connect()
  try {
    return await fn(client)
  } finally {
    // The snapshot's own connection: a close error says nothing about the catalog.
    await client.end().catch(() => undefined)
  }
}

async function query<R extends pg.QueryResultRow>(config: pg.ClientConfig, text: string, values?: unknown[]): Promise<R[]> {
  return connected(config, async (client) => (await client.query<R>(text, values)).rows)
}

/**
 * The databases of this test (given) and every janua_<cp>_* database of the control planes found
 * in them, with their pg_database rows, the roles janua uses, and each database's catalog.
 */
async function snapshot(admin: pg.ClientConfig, databases: string[]): Promise<string> {
  const ids = new Set<string>()
  for (const database of databases) {
    const rows = await query<{ value: string }>({ ...admin, database }, `select value from janua.meta where key = 'id' and to_regclass('janua.meta') is not null`).catch(() => [])
    for (const r of rows) ids.add(r.value)
  }
  const patterns = [...ids].map((id) => `janua\\_${id}\\_%`)
  const pgDatabase = await query<{ datname: string }>(
    admin,
    `select datname, pg_get_userbyid(datdba) as owner, datacl::text as acl, datallowconn, datistemplate, datconnlimit
       from pg_database where datname = any($1) or datname like any($2) order by datname`,
    [databases, patterns],
  )
  const roles = await query(
    admin,
    `select rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolbypassrls, rolconnlimit,
            array(select b.rolname from pg_auth_members m join pg_roles b on b.oid = m.roleid where m.member = r.oid order by 1)::text as member_of
       from pg_roles r where rolname = any($1) order by 1`,
    [[APP_ROLE, String(admin.user ?? 'postgres')]],
  )
  const catalogs: Record<string, Record<string, unknown[]>> = {}
  for (const { datname } of pgDatabase) {
    catalogs[datname] = await connected({ ...admin, database: datname }, async (client) => {
      const catalog: Record<string, unknown[]> = {}
      for (const [name, text] of Object.entries(CATALOG_QUERIES)) catalog[name] = (await client.query(text)).rows
      return catalog
    })
  }
  return JSON.stringify({ pgDatabase, roles, catalogs }, null, 1)
}

/** The first line of difference between two snapshots, for a readable failure. */
function firstDifference(before: string, after: string): string {
  const a = before.split('\n')
  const b = after.split('\n')
  const i = a.findIndex((line, n) => line !== b[n])
  return i < 0
    ? a.length === b.length
      ? 'none'
      : `after has ${b.length - a.length} more lines: ${b.slice(a.length, a.length + 5).join(' ')}`
    : `line ${i}: before ${a[i]} / after ${b[i]}`
}

describe('read-only commands change nothing', () => {
  let db: TestDatabase
  /** a second database of the same server, registered as server "two" */
  let second: TestDatabase
  /** a database without a control plane */
  let bare: TestDatabase
  const templates = copyTemplates()
  const env = (url: string) => ({ DATABASE_URL: url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: templates.dir, JANUA_RO_TWO_URL: second?.url })
  const cli = (url: string, args: string[]) => runCli([...args, '--json'], { env: env(url) })

  /** Runs a command between two snapshots of every database it could touch; returns the result. */
  async function unchanged(url: string, args: string[], databases: () => string[]): Promise<CliResult> {
    const before = await snapshot(db.admin, databases())
    const result = await cli(url, args)
    const after = await snapshot(db.admin, databases())
    expect(after === before, `janua ${args.join(' ')} changed the catalog: ${firstDifference(before, after)}`).toBe(true)
    return result
  }
  const fleetDatabases = () => [db.name, second.name]

  beforeAll(async () => {
    ;[db, second, bare] = await Promise.all([freshDatabase('ro'), freshDatabase('ro2'), freshDatabase('robare')])
    const init = await cli(db.url, ['db', 'init'])
    expect(init.code, init.stderr).toBe(0)
    // A second registered server: this server again, under another database. Written directly:
    // `server add` refuses a second name for one cluster. By its variable's name, as `server add
    // --url-env` stores it: a URL with the test server's password has no place in janua.servers.
    await db.query(`insert into janua.servers (name, url_env) values ('two', 'JANUA_RO_TWO_URL')`)
    for (const [slug, level] of [
      ['ro-shared', 'shared'],
      ['ro-shared-b', 'shared'],
      ['ro-schema', 'schema'],
      ['ro-database', 'database'],
    ]) {
      const r = await cli(db.url, ['tenant', 'create', slug!, '--isolation', level!, '--server', 'primary'])
      expect(r.code, r.stdout + r.stderr).toBe(0)
    }
    // One template pending for every placement.
    templates.add('0005_phone.sql', 'alter table users add column phone text;\ncreate index users_tenant_phone_idx on users (tenant_id, phone);\n')
  })

  afterAll(async () => {
    for (const d of [db, second, bare]) await d?.drop()
    templates.remove()
  })

  it('the fleet has a template pending (what the dry runs plan to do)', async () => {
    const plan = await unchanged(db.url, ['tenant', 'migrate', '--dry-run'], fleetDatabases)
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.json.dryRun).toBe(true)
    const pending = plan.json.placements.filter((p: { pending: string[] }) => p.pending.includes('0005_phone.sql'))
    expect(pending.map((p: { kind: string }) => p.kind).sort()).toEqual(expect.arrayContaining(['database', 'schema', 'shared']))
  })

  it.each([
    [['tenant', 'list'], 0],
    [['tenant', 'inspect', 'ro-shared'], 0],
    [['tenant', 'inspect', 'ro-schema'], 0],
    [['tenant', 'inspect', 'ro-database'], 0],
    [['db', 'status'], 0],
    [['server', 'list'], 0],
    [['server', 'list', '--check'], 0],
    [['tenant', 'migrate', '--dry-run', '--tenant', 'ro-database'], 0],
    [['tenant', 'move', 'ro-schema', '--to', 'database', '--dry-run'], 0],
  ])('janua %j leaves every catalog as it was', async (args, code) => {
    const r = await unchanged(db.url, args as string[], fleetDatabases)
    expect(r.code, r.stdout + r.stderr).toBe(code)
  })

  it('db verify leaves every catalog as it was', async () => {
    const r = await unchanged(db.url, ['db', 'verify'], fleetDatabases)
    // Findings (exit 3) are allowed: what matters here is that verify wrote nothing.
    expect([0, 3], r.stdout + r.stderr).toContain(r.code)
  })

  it('tenant move --to database --dry-run to another server leaves every catalog as it was', async () => {
    const r = await unchanged(db.url, ['tenant', 'move', 'ro-shared', '--to', 'database', '--server', 'two', '--dry-run'], fleetDatabases)
    expect(r.code, r.stdout + r.stderr).toBe(0)
  })

  // Planning a move to a schema on another server once created janua_<cp>__shared there and
  // applied every template; the drivers' `locate` is pure now.
  it('tenant move --to schema --dry-run to another server leaves every catalog as it was', async () => {
    const r = await unchanged(db.url, ['tenant', 'move', 'ro-shared', '--to', 'schema', '--server', 'two', '--dry-run'], fleetDatabases)
    expect(r.code, r.stdout + r.stderr).toBe(0)
  })

  it.each([
    [['tenant', 'list']],
    [['tenant', 'inspect', 'acme']],
    [['db', 'status']],
    [['db', 'verify']],
    [['server', 'list']],
    [['tenant', 'migrate', '--dry-run']],
    [['tenant', 'move', 'acme', '--to', 'database', '--dry-run']],
    [['tenant', 'migrate']],
    [['server', 'add', 'two', 'postgres://postgres@127.0.0.1:5432/postgres']],
  ])('without a control plane, janua %j exits 2 saying to run db init, and changes nothing', async (args) => {
    const r = await unchanged(bare.url, args, () => [bare.name])
    expect(r.code, r.stdout + r.stderr).toBe(2)
    expect(r.json.error.message).toContain('janua db init')
    expect(r.stderr, 'nothing is said about an audit row where there is no control plane').toBe('')
    expect((await bare.query(`select count(*)::int as n from pg_namespace where nspname = 'janua'`)).rows[0].n).toBe(0)
  })

  it('without a control plane the human output is one line saying to run janua db init', async () => {
    const r = await runCli(['tenant', 'list'], { env: env(bare.url) })
    expect(r.code).toBe(2)
    const lines = r.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/no janua control plane in database .*: run `janua db init`/)
  })

  it('a control plane behind this janua: read-only commands say to run db init and upgrade nothing', async () => {
    const current = CONTROL_PLANE_STEPS.length
    await db.query(`update janua.meta set value = $1 where key = 'schema_version'`, [String(current - 1)])
    try {
      for (const args of [
        ['tenant', 'list'],
        ['db', 'status'],
        ['tenant', 'migrate', '--dry-run'],
        ['tenant', 'inspect', 'ro-schema'],
      ]) {
        const r = await unchanged(db.url, args, fleetDatabases)
        expect(r.code, r.stdout + r.stderr).toBe(2)
        expect(r.json.error.message).toMatch(new RegExp(`schema version ${current - 1}.*run \`janua db init\``))
      }
      expect((await db.query(`select value from janua.meta where key = 'schema_version'`)).rows[0].value).toBe(String(current - 1))
    } finally {
      await db.query(`update janua.meta set value = $1 where key = 'schema_version'`, [String(current)])
    }
  })

  it('every run is audited in the control plane it used; an audit row that cannot be written is said on stderr', async () => {
    const before = Number((await db.query(`select count(*)::int as n from janua.audit_log`)).rows[0].n)
    expect((await cli(db.url, ['tenant', 'list'])).code).toBe(0)
    expect((await cli(db.url, ['tenant', 'inspect', 'nobody'])).code).toBe(2)
    const rows = (await db.query(`select command, exit_code, db_user from janua.audit_log order by id desc limit 2`)).rows
    expect(Number((await db.query(`select count(*)::int as n from janua.audit_log`)).rows[0].n)).toBe(before + 2)
    expect(rows.map((r) => [r.command, r.exit_code])).toEqual([
      ['tenant inspect', 2],
      ['tenant list', 0],
    ])
    expect(rows[0].db_user).toBeTruthy()

    // The audit table refuses rows: the command's outcome stands, stderr says the run was not recorded.
    await db.query(`alter table janua.audit_log add constraint ro_test_refuse check (false) not valid`)
    try {
      const r = await cli(db.url, ['tenant', 'list'])
      expect(r.code).toBe(0)
      expect(r.json.tenants.length).toBeGreaterThan(0)
      const lines = r.stderr.trim().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/not recorded in the audit log: .*ro_test_refuse/)
    } finally {
      await db.query(`alter table janua.audit_log drop constraint ro_test_refuse`)
    }
  })
})
