import { describe, expect, it } from 'vitest'
import { extensionsIn } from '../../src/core/apply.js'
import { historyFindings, levelsOf, staticFindings } from '../../src/core/templates-check.js'
import { parseTemplateFile, type TemplateSet } from '../../src/core/templates.js'
import { objectId, type Catalog, type CatalogObject } from '../../src/catalog/snapshot.js'

const set = (files: Record<string, string>): TemplateSet => {
  const parsed = Object.entries(files).map(([name, sql]) => parseTemplateFile(name, `/t/${name}`, sql))
  return { dir: '/t', files: parsed, seeds: [], latest: parsed.at(-1)!.version }
}
const catalog = (objects: CatalogObject[]): Catalog => new Map(objects.map((o) => [objectId(o), o]))

describe('templates check, pure parts', () => {
  it('finds statements that need the no-transaction header, BEGIN/COMMIT, and a misplaced header, with lines', () => {
    const found = staticFindings(
      set({
        '0001_a.sql': 'create table a (id int);\n\n-- an index\ncreate index concurrently a_idx on a (id);\n',
        '0002_b.sql': '-- janua:no-transaction\ncreate index concurrently b_idx on a (id);\n',
        '0003_c.sql': 'begin;\ncreate table c (id int);\ncommit;\n',
        '0004_d.sql': 'create table d (id int);\n-- janua:no-transaction\n',
      }),
    )
    expect(found.map((f) => `${f.code} ${f.file?.split('/').pop()}:${f.line}`)).toEqual([
      'template/needs-no-transaction 0001_a.sql:4',
      'template/transaction-control 0003_c.sql:1',
      'template/transaction-control 0003_c.sql:3',
      'template/misplaced-header 0004_d.sql:2',
    ])
  })

  it('compares the folder with the shared placement history', () => {
    const s = set({ '0001_a.sql': 'select 1;\n', '0002_b.sql': 'select 2;\n', '0005_e.sql': 'select 5;\n' })
    const found = historyFindings(s, [
      { version: 1, file: '0001_a.sql', sha256: 'edited' },
      { version: 3, file: '0003_gone.sql', sha256: 'x' },
      { version: 5, file: '0005_e.sql', sha256: s.files[2]!.sha256 },
    ])
    expect(found.map((f) => f.code)).toEqual(['template/checksum-changed', 'template/applied-missing', 'template/out-of-order'])
  })

  it('says which levels a catalog supports', () => {
    const plain = levelsOf(
      catalog([
        { kind: 'table', key: 'notes', descr: 'table no-rls not-forced' },
        { kind: 'column', key: 'notes.id', descr: 'bigint' },
      ]),
    )
    expect(plain.levels.map((l) => l.supported)).toEqual([false, true, true])
    expect(plain.referenceTables).toEqual(['notes'])
    const tenant = levelsOf(
      catalog([
        { kind: 'table', key: 'users', descr: 'table rls forced' },
        { kind: 'column', key: 'users.tenant_id', descr: 'uuid not null' },
      ]),
    )
    expect(tenant.levels.map((l) => l.supported)).toEqual([true, true, true])
    const unforced = levelsOf(
      catalog([
        { kind: 'table', key: 'users', descr: 'table rls not-forced' },
        { kind: 'column', key: 'users.tenant_id', descr: 'uuid' },
      ]),
    )
    expect(unforced.levels[0]).toMatchObject({ supported: false, reason: expect.stringMatching(/users/) })
  })

  it('reads the extensions a file creates, not those in comments', () => {
    expect(extensionsIn('create extension if not exists citext;\n-- create extension postgis;\nCREATE EXTENSION "uuid-ossp" schema x;\ncreate extension btree_gist;')).toEqual([
      'citext',
      'uuid-ossp',
      'btree_gist',
    ])
  })
})
