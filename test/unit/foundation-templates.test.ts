import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { januaErrorOf } from '../helpers/foundation.js'
import { checkApplied, headerOf, lineAndColumn, loadTemplates, parseTemplateFile, sha256, type AppliedFile, type TemplateSet } from '../../src/core/templates.js'

const dirs: string[] = []
function tempFolder(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-unit-templates-'))
  dirs.push(dir)
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    fs.writeFileSync(path.join(dir, name), text)
  }
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

describe('parseTemplateFile', () => {
  it('takes the version from the integer prefix and keeps the name', () => {
    const f = parseTemplateFile('0004_billing.sql', '/x/0004_billing.sql', 'select 1;')
    expect(f).toMatchObject({ version: 4, name: '0004_billing.sql', path: '/x/0004_billing.sql', sql: 'select 1;', noTransaction: false })
    expect(parseTemplateFile('0001_identity.sql', 'p', '').version).toBe(1)
    expect(parseTemplateFile('0120_add_x2.sql', 'p', '').version).toBe(120)
    expect(parseTemplateFile('00010_wide.sql', 'p', '').version).toBe(10)
    expect(parseTemplateFile('12345_long.sql', 'p', '').version).toBe(12345)
  })

  it.each(['1_x.sql', '001_x.sql', '0001-x.sql', '0001_X.sql', '0001_.sql', '0001_x.SQL', '0001_x.sql.bak', 'x_0001.sql', '0001_a b.sql', '0001_a-b.sql'])(
    'refuses the file name %j with exit code 2',
    (name) => {
      const error = januaErrorOf(() => parseTemplateFile(name, name, 'select 1;'))
      expect(error.exitCode).toBe(2)
      expect(error.message).toContain(name)
    },
  )

  it('detects the no-transaction header in the leading comment block', () => {
    expect(parseTemplateFile('0005_idx.sql', 'p', '-- janua:no-transaction\ncreate index concurrently i on t (a);').noTransaction).toBe(true)
    expect(parseTemplateFile('0005_idx.sql', 'p', '-- 0005: an index\n--\n\n  --janua:no-transaction\ncreate index concurrently i on t (a);').noTransaction).toBe(true)
    expect(parseTemplateFile('0005_idx.sql', 'p', '-- intro\r\n-- janua:no-transaction\r\ncreate index concurrently i on t (a);\r\n').noTransaction).toBe(true)
  })

  it('ignores the marker after the first statement line, or inside other words', () => {
    expect(parseTemplateFile('0005_a.sql', 'p', 'create table t (a int);\n-- janua:no-transaction\n').noTransaction).toBe(false)
    expect(parseTemplateFile('0005_a.sql', 'p', '-- header\nselect 1;\n-- janua:no-transaction\n').noTransaction).toBe(false)
    expect(parseTemplateFile('0005_a.sql', 'p', "select '-- janua:no-transaction';").noTransaction).toBe(false)
    expect(parseTemplateFile('0005_a.sql', 'p', '-- janua:no-transactions are not a thing\nselect 1;').noTransaction).toBe(false)
    expect(parseTemplateFile('0005_a.sql', 'p', '-- not janua:no-transaction here\nselect 1;').noTransaction).toBe(false)
  })

  it('headerOf returns the leading blank and comment lines only', () => {
    expect(headerOf('-- a\n\n-- b\nselect 1;\n-- c')).toBe('-- a\n\n-- b')
    expect(headerOf('select 1;')).toBe('')
  })

  it('sha256 is the hex digest of the exact text: stable, and sensitive to any change', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    const text = 'create table t (a int);\n'
    const a = parseTemplateFile('0001_t.sql', 'p', text)
    const b = parseTemplateFile('0001_t.sql', 'q', text)
    expect(a.sha256).toBe(b.sha256)
    expect(a.sha256).toBe(sha256(text))
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(parseTemplateFile('0001_t.sql', 'p', `${text}-- edited\n`).sha256).not.toBe(a.sha256)
    expect(parseTemplateFile('0001_t.sql', 'p', text.replace('\n', '\r\n')).sha256).not.toBe(a.sha256)
  })
})

describe('loadTemplates', () => {
  it('orders files by version number (not by name), ignores other files, and reads seeds', () => {
    const dir = tempFolder({
      '0010_ten.sql': 'select 10;',
      '0002_two.sql': 'select 2;',
      '0001_one.sql': 'select 1;',
      '0003_three.sql': '-- janua:no-transaction\nselect 3;',
      'README.md': '# not a template',
      'notes.txt': 'ignored',
      'seed/0001_roles.sql': 'select 1;',
      'seed/0002_more.sql': 'select 2;',
    })
    const set = loadTemplates(dir)
    expect(set.dir).toBe(dir)
    expect(set.files.map((f) => f.name)).toEqual(['0001_one.sql', '0002_two.sql', '0003_three.sql', '0010_ten.sql'])
    expect(set.files.map((f) => f.version)).toEqual([1, 2, 3, 10])
    expect(set.files.map((f) => f.noTransaction)).toEqual([false, false, true, false])
    expect(set.latest).toBe(10)
    expect(set.seeds.map((f) => f.name)).toEqual(['0001_roles.sql', '0002_more.sql'])
    expect(set.files[0]!.path).toBe(path.join(dir, '0001_one.sql'))
  })

  it('works without a seed folder', () => {
    const set = loadTemplates(tempFolder({ '0001_things.sql': 'create table things (id int primary key, name text);' }))
    expect(set.seeds).toEqual([])
    expect(set.latest).toBe(1)
  })

  it('refuses two files with the same version (exit 2, naming both)', () => {
    const error = januaErrorOf(() => loadTemplates(tempFolder({ '0001_a.sql': 'select 1;', '0001_b.sql': 'select 2;' })))
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain('0001_a.sql')
    expect(error.message).toContain('0001_b.sql')
  })

  it('refuses the same version written with a different width', () => {
    const error = januaErrorOf(() => loadTemplates(tempFolder({ '0001_a.sql': 'select 1;', '00001_b.sql': 'select 2;' })))
    expect(error.exitCode).toBe(2)
  })

  it('refuses a badly named .sql file (exit 2, naming it)', () => {
    const error = januaErrorOf(() => loadTemplates(tempFolder({ '0001_a.sql': 'select 1;', 'add-users.sql': 'select 2;' })))
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain('add-users.sql')
  })

  it('refuses a missing folder, an empty folder, and a no-transaction seed (exit 2)', () => {
    expect(januaErrorOf(() => loadTemplates(path.join(os.tmpdir(), 'janua-no-such-folder-xyz'))).exitCode).toBe(2)
    expect(januaErrorOf(() => loadTemplates(tempFolder({ 'README.md': 'x' }))).exitCode).toBe(2)
    const error = januaErrorOf(() => loadTemplates(tempFolder({ '0001_a.sql': 'select 1;', 'seed/0001_s.sql': '-- janua:no-transaction\nselect 1;' })))
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain('0001_s.sql')
  })

  it('loads the package templates: four files, newest version 4, one seed', () => {
    const set = loadTemplates(path.resolve(import.meta.dirname, '..', '..', 'templates'))
    expect(set.files.map((f) => f.version)).toEqual([1, 2, 3, 4])
    expect(set.latest).toBe(4)
    expect(set.seeds.length).toBeGreaterThanOrEqual(1)
  })
})

describe('checkApplied', () => {
  const set = (): TemplateSet => {
    const files = [parseTemplateFile('0001_one.sql', 'p1', 'create table one (a int);'), parseTemplateFile('0002_teams_rbac.sql', 'p2', 'create table two (a int);')]
    return { dir: '/templates', files, seeds: [], latest: 2 }
  }
  const applied = (s: TemplateSet): AppliedFile[] => s.files.map((f) => ({ version: f.version, file: f.name, sha256: f.sha256 }))

  it('accepts a history that matches the folder, or a prefix of it', () => {
    const s = set()
    expect(() => checkApplied(s, applied(s), 'here')).not.toThrow()
    expect(() => checkApplied(s, applied(s).slice(0, 1), 'here')).not.toThrow()
    expect(() => checkApplied(s, [], 'here')).not.toThrow()
  })

  it('refuses an edited applied file with exit 6, naming the file', () => {
    const s = set()
    const history = applied(s)
    history[1] = { ...history[1]!, sha256: sha256('the text as it was applied') }
    const error = januaErrorOf(() => checkApplied(s, history, 'shared placement primary/db/janua_shared'))
    expect(error.exitCode).toBe(6)
    expect(error.code).toBe('checksum_mismatch')
    expect(error.message).toContain('0002_teams_rbac.sql')
    expect(error.hint).toBeTruthy()
  })

  it('refuses an applied file missing from the folder with exit 6, naming it', () => {
    const s = set()
    const history = [...applied(s), { version: 3, file: '0003_gone.sql', sha256: sha256('x') }]
    const error = januaErrorOf(() => checkApplied(s, history, 'here'))
    expect(error.exitCode).toBe(6)
    expect(error.message).toContain('0003_gone.sql')
  })
})

describe('lineAndColumn', () => {
  const text = 'select 1;\ncreate table t (\n  a intt\n);'
  it.each([
    [1, 1, 1],
    [7, 1, 7],
    [10, 1, 10],
    [11, 2, 1],
    [text.indexOf('intt') + 1, 3, 5],
    [text.length, 4, 2],
  ])('position %i -> line %i, column %i', (position, line, column) => {
    expect(lineAndColumn(text, position)).toEqual({ line, column })
  })

  it('treats position 0 or less as the start', () => {
    expect(lineAndColumn(text, 0)).toEqual({ line: 1, column: 1 })
  })
})
