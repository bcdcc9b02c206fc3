import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { defaultTemplates, templateFolder } from '../helpers/foundation.js'

const POLICY = (t: string) => `alter table ${t} enable row level security, force row level security;
create policy tenant_isolation on ${t} using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);`

/** One mistake of each lint rule a template can make, each in a file of its own. */
const MISTAKES: Record<string, { sql: string; code: string; line: number }> = {
  '0001_rls_off.sql': {
    code: 'lint/rls-disabled',
    line: 2,
    sql: `-- no RLS at all
create table rls_off (tenant_id uuid not null, id uuid primary key);
create policy tenant_isolation on rls_off using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);
`,
  },
  '0002_not_forced.sql': {
    code: 'lint/rls-not-forced',
    line: 2,
    sql: `create table not_forced (tenant_id uuid not null, id uuid primary key);
alter table not_forced enable row level security;
create policy tenant_isolation on not_forced using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);
`,
  },
  '0003_no_policy.sql': {
    code: 'lint/no-tenant-policy',
    line: 1,
    sql: `create table no_policy (tenant_id uuid not null, id uuid primary key, owner_name text);
alter table no_policy enable row level security, force row level security;
create policy by_owner on no_policy using (owner_name = current_user);
`,
  },
  '0004_always_true.sql': {
    code: 'lint/policy-always-true',
    line: 5,
    sql: `create table always_true (tenant_id uuid not null, id uuid not null, name text, primary key (tenant_id, id), unique (id));
${POLICY('always_true')}
create policy everyone on always_true using (true);
`,
  },
  '0005_fk.sql': {
    code: 'lint/fk-without-tenant',
    line: 3,
    sql: `create table fk_child (tenant_id uuid not null, id uuid primary key,
  parent_id uuid,
  constraint fk_child_parent foreign key (parent_id) references always_true (id));
${POLICY('fk_child')}
`,
  },
  '0006_index.sql': {
    code: 'lint/index-not-tenant-led',
    line: 2,
    sql: `-- an index a tenant's queries cannot use
create index always_true_name_idx on always_true (name);
`,
  },
  '0007_view.sql': {
    code: 'lint/view-not-security-invoker',
    line: 1,
    sql: `create view everything as select * from always_true;
`,
  },
  '0008_public.sql': {
    code: 'lint/public-grant',
    line: 1,
    sql: `grant select on always_true to public;
`,
  },
  '0009_owner.sql': {
    code: 'lint/app-role-owner',
    line: 1,
    sql: `create table owned (tenant_id uuid not null, id uuid primary key);
${POLICY('owned')}
alter table owned owner to janua_app;
`,
  },
}

describe('janua templates check', () => {
  let db: TestDatabase
  const dirs: string[] = []
  const folder = (files: Record<string, string>, copyFrom?: string) => {
    const dir = templateFolder(files, copyFrom)
    dirs.push(dir)
    return dir
  }
  const check = (dir: string, ...args: string[]) => runCli(['templates', 'check', '--templates', dir, ...args], { env: { DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined } })

  beforeAll(async () => {
    db = await freshDatabase('templates_check')
  })
  afterAll(async () => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
    await db?.drop()
  })

  it('the default templates are clean and support every level; nothing is left behind', async () => {
    const r = await check(defaultTemplates, '--json')
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.json.ok).toBe(true)
    expect(r.json.findings).toEqual([])
    expect(r.json.levels.map((l: { supported: boolean }) => l.supported)).toEqual([true, true, true])
    const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from pg_namespace where nspname like 'janua\\_%' or nspname like 'tenant%'`)
    expect(rows[0]!.n).toBe(0)
  })

  it('names each lint mistake with its file and line; exit 3; GitHub annotations', async () => {
    const dir = folder(Object.fromEntries(Object.entries(MISTAKES).map(([name, m]) => [name, m.sql])))
    const r = await check(dir, '--json')
    expect(r.code, r.stdout + r.stderr).toBe(3)
    for (const [name, m] of Object.entries(MISTAKES)) {
      const found = r.json.findings.filter((f: { code: string }) => f.code === m.code)
      expect(
        found.some((f: { file: string; line: number }) => f.file.endsWith(name) && f.line === m.line),
        `${m.code}: ${JSON.stringify(r.json.findings, null, 1)}`,
      ).toBe(true)
    }
    const gh = await check(dir, '--format', 'github')
    expect(gh.code).toBe(3)
    expect(gh.stdout).toMatch(/^::error file=[^,]*0006_index\.sql,line=2,title=janua lint\/index-not-tenant-led::/m)
  })

  it('a folder without tenant_id: shared is not supported, schema and database are', async () => {
    const dir = folder({ '0001_plain.sql': 'create table notes (id bigint generated always as identity primary key, body text not null);\n' })
    const r = await check(dir, '--json')
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.json.levels).toEqual([
      { level: 'shared', supported: false, reason: expect.stringMatching(/no table has a tenant_id column/) },
      { level: 'schema', supported: true },
      { level: 'database', supported: true },
    ])
    expect(r.json.referenceTables).toEqual(['notes'])
  })

  it('files migrate would refuse: an applied file edited, no-transaction statements, BEGIN/COMMIT', async () => {
    const dir = folder({}, defaultTemplates)
    const init = await runCli(['db', 'init', '--templates', dir, '--json'], { env: { DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined } })
    expect(init.code, init.stdout + init.stderr).toBe(0)
    fs.appendFileSync(path.join(dir, '0002_teams_rbac.sql'), '\n-- edited after it shipped\n')
    fs.writeFileSync(path.join(dir, '0005_index.sql'), 'create index concurrently users_tenant_name_idx on users (tenant_id, display_name);\n')
    fs.writeFileSync(path.join(dir, '0006_commit.sql'), 'alter table users add column nickname text;\ncommit;\n')
    const r = await check(dir, '--json')
    expect(r.code).toBe(3)
    const codes = r.json.findings.map((f: { code: string; file?: string; line?: number }) => `${f.code} ${path.basename(f.file ?? '')}:${f.line}`)
    expect(codes).toEqual(
      expect.arrayContaining([
        'template/checksum-changed 0002_teams_rbac.sql:1',
        'template/needs-no-transaction 0005_index.sql:1',
        'template/transaction-control 0006_commit.sql:2',
      ]),
    )
  })
})
