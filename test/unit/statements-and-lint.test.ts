import { describe, expect, it } from 'vitest'
import { splitStatements } from '../../src/core/statements.js'
import { lintCatalog } from '../../src/catalog/lint.js'
import { diffCatalogs } from '../../src/catalog/diff.js'
import { objectId, type Catalog, type CatalogObject } from '../../src/catalog/snapshot.js'

describe('splitStatements', () => {
  it('splits on semicolons outside quotes, comments and dollar quotes, with offsets after leading comments', () => {
    const sql = `-- header\ncreate table a (x text default ';');\n/* ; */ insert into a values ($$;$$);\ncreate function f() returns int language sql as $body$ select 1; $body$;\nselect E'\\';';`
    const statements = splitStatements(sql)
    expect(statements.map((s) => s.text)).toEqual([
      `-- header\ncreate table a (x text default ';');`,
      `/* ; */ insert into a values ($$;$$);`,
      'create function f() returns int language sql as $body$ select 1; $body$;',
      `select E'\\';';`,
    ])
    expect(sql.slice(statements[0]!.offset).startsWith('create table a')).toBe(true)
    expect(sql.slice(statements[1]!.offset).startsWith('insert into a')).toBe(true)
  })

  it('ignores trailing comments and blank input', () => {
    expect(splitStatements('select 1; -- done\n')).toHaveLength(1)
    expect(splitStatements('  \n-- nothing\n')).toEqual([])
  })
})

const catalog = (objects: CatalogObject[]): Catalog => new Map(objects.map((o) => [objectId(o), o]))
const tenantTable = (name: string, descr = 'table rls forced owner=janua options='): CatalogObject[] => [
  { kind: 'table', key: name, descr },
  { kind: 'column', key: `${name}.tenant_id`, descr: 'uuid not null' },
  {
    kind: 'policy',
    key: `${name}.tenant_isolation`,
    descr:
      "permissive for all to public using ((tenant_id = (NULLIF(current_setting('app.current_tenant'::text, true), ''::text))::uuid)) check ((tenant_id = (NULLIF(current_setting('app.current_tenant'::text, true), ''::text))::uuid))",
  },
]

describe('lintCatalog', () => {
  it('passes a well-formed tenant table', () => {
    expect(lintCatalog(catalog(tenantTable('users')), 'janua_app')).toEqual([])
  })

  it('finds RLS off, FORCE off, an always-true policy, a foreign key and an index without tenant_id, and an app-role owner', () => {
    const found = lintCatalog(
      catalog([
        ...tenantTable('users', 'table no-rls not-forced owner=janua_app options='),
        ...tenantTable('sessions'),
        { kind: 'policy', key: 'sessions.open', descr: 'permissive for all to public using (true) check (true)' },
        { kind: 'constraint', key: 'sessions.sessions_user_fkey', descr: 'FOREIGN KEY (user_id) REFERENCES users(id)' },
        { kind: 'index', key: 'sessions_user_idx', descr: 'CREATE INDEX sessions_user_idx ON sessions USING btree (user_id)' },
        { kind: 'index', key: 'sessions_ok_idx', descr: 'CREATE INDEX sessions_ok_idx ON sessions USING btree (tenant_id, user_id)' },
      ]),
      'janua_app',
    )
      .map((f) => f.code)
      .sort()
    expect(found).toEqual(['lint/app-role-owner', 'lint/fk-without-tenant', 'lint/index-not-tenant-led', 'lint/policy-always-true', 'lint/rls-disabled', 'lint/rls-not-forced'])
  })
})

describe('diffCatalogs', () => {
  it('reports missing, unexpected and different objects with expected and actual text', () => {
    const expected = catalog([
      { kind: 'index', key: 'a_idx', descr: 'A' },
      { kind: 'index', key: 'b_idx', descr: 'B' },
    ])
    const actual = catalog([
      { kind: 'index', key: 'b_idx', descr: 'B2' },
      { kind: 'index', key: 'c_idx', descr: 'C' },
    ])
    expect(diffCatalogs(expected, actual).map((f) => [f.code, f.change, f.object, f.expected, f.actual])).toEqual([
      ['drift/index', 'missing', 'index a_idx', 'A', undefined],
      ['drift/index', 'different', 'index b_idx', 'B', 'B2'],
      ['drift/index', 'unexpected', 'index c_idx', undefined, 'C'],
    ])
  })
})
