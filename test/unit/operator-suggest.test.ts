import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { judgeNotFound } from '../../src/cli/not-found.js'
import { closest, editDistance } from '../../src/core/suggest.js'
import { parseLockTimeout } from '../../src/core/tenant-lock.js'
import { distinctErrors } from '../../src/cli/ci.js'
import { annotation, templateLocation } from '../../src/cli/ci.js'
import { validate } from '../helpers/json-schema.js'

const word = fc.stringMatching(/^[a-z]{1,12}$/)
const COMMANDS = [
  'tenant:create',
  'tenant:list',
  'tenant:drop',
  'tenant:inspect',
  'tenant:migrate',
  'tenant:migrate-isolation',
  'tenant:cleanup',
  'db:init',
  'db:status',
  'db:verify',
  'db:destroy',
  'config',
]

describe('edit distance and the closest name', () => {
  it('is a metric: zero only for equal words, symmetric, triangle inequality', () => {
    fc.assert(
      fc.property(word, word, word, (a, b, c) => {
        expect(editDistance(a, b) === 0).toBe(a === b)
        expect(editDistance(a, b)).toBe(editDistance(b, a))
        expect(editDistance(a, c)).toBeLessThanOrEqual(editDistance(a, b) + editDistance(b, c))
        expect(editDistance(a, b)).toBeLessThanOrEqual(Math.max(a.length, b.length))
      }),
    )
  })

  it('one typo (deleted, doubled or changed letter) in a name of 4+ letters finds that name', () => {
    const names = ['templates', 'databaseUrl', 'appRole']
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.nat(), fc.constantFrom('delete', 'double', 'change'), (name, at, kind) => {
        const i = at % name.length
        const typo =
          kind === 'delete'
            ? name.slice(0, i) + name.slice(i + 1)
            : kind === 'double'
              ? name.slice(0, i) + name[i] + name.slice(i)
              : name.slice(0, i) + (name[i] === 'x' ? 'y' : 'x') + name.slice(i + 1)
        expect(closest(typo, names)).toBe(name)
      }),
    )
  })

  it('"template" suggests "templates"; a word far from every name suggests nothing', () => {
    expect(closest('template', ['databaseUrl', 'templates', 'appRole'])).toBe('templates')
    expect(closest('zzzzzzzz', ['databaseUrl', 'templates', 'appRole'])).toBeUndefined()
  })
})

describe('command not found', () => {
  it('tenant creat foo: tenant create, the argument kept', () => {
    const r = judgeNotFound('tenant:creat:foo', COMMANDS)
    expect(r.suggestion).toBe('tenant create')
    expect(r.hint).toContain('janua tenant create foo')
  })
  it('tenant list acme: a misplaced argument', () => {
    expect(judgeNotFound('tenant:list:acme', COMMANDS).message).toBe('`janua tenant list` takes no argument "acme" there')
  })
  it('every command with one letter dropped is found again (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...COMMANDS), fc.nat(), (id, at) => {
        const words = id.split(':')
        const last = words[words.length - 1]!
        if (last.length < 5) return
        const i = at % last.length
        words[words.length - 1] = last.slice(0, i) + last.slice(i + 1)
        expect(judgeNotFound(words.join(':'), COMMANDS).suggestion).toBe(id.replaceAll(':', ' '))
      }),
    )
  })
})

describe('durations', () => {
  it('30s and 2m are 30000 and 120000 ms; n ms, n s, n m agree (property)', () => {
    expect(parseLockTimeout('30s')).toBe(30_000)
    expect(parseLockTimeout('2m')).toBe(120_000)
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), (n) => {
        expect(parseLockTimeout(`${n}`)).toBe(n)
        expect(parseLockTimeout(`${n}s`)).toBe(n * 1000)
        expect(parseLockTimeout(`${n}m`)).toBe(n * 60_000)
      }),
    )
  })
})

describe('CI output', () => {
  const failed = (schema: string, tenant: string) => ({
    kind: 'schema' as const,
    placement: { server: 'primary', database: 'db', schema },
    tenants: [tenant],
    version: 4,
    pending: ['0005_x.sql'],
    status: 'failed' as const,
    applied: [],
    toVersion: 4,
    durationMs: 1,
    error: {
      message: `schema placement primary/db/${schema}: 0005_x.sql:3:7: syntax error`,
      exitCode: 1,
      file: '0005_x.sql',
      line: 3,
      column: 7,
      sqlstate: '42601',
      reason: 'syntax error',
    },
  })
  it('placements failing alike make one distinct error naming them all', () => {
    const errors = distinctErrors([failed('tenant_a', 'a'), failed('tenant_b', 'b'), failed('tenant_c', 'c')])
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ message: '0005_x.sql:3:7: syntax error', tenants: ['a', 'b', 'c'], file: '0005_x.sql', line: 3, column: 7 })
  })
  it('a lint finding is placed on the template file and line that creates its object', () => {
    const files = [
      { name: '0001_a.sql', sql: 'create table users (id int);\n' },
      { name: '0002_b.sql', sql: '-- notes\n\ncreate table if not exists notes (\n  tenant_id uuid\n);\ncreate policy notes_all on notes using (true);\n' },
    ]
    expect(templateLocation({ object: 'table notes' }, files)).toEqual({ file: '0002_b.sql', line: 3 })
    expect(templateLocation({ object: 'policy notes_all' }, files)).toEqual({ file: '0002_b.sql', line: 6 })
    expect(templateLocation({ object: 'role janua_app' }, files)).toBeUndefined()
  })

  it('annotations escape their properties and data', () => {
    expect(annotation('error', 'a\nb%', { file: 'x,y.sql', line: 2, column: 3, title: 'janua: t' })).toBe('::error file=x%2Cy.sql,line=2,col=3,title=janua%3A t::a%0Ab%25')
  })
})

describe('the JSON Schema subset validator', () => {
  it('checks type, required, properties, items and enum', () => {
    const schema = { type: 'object', required: ['a'], properties: { a: { type: 'array', items: { type: ['string', 'null'] } }, b: { enum: [1] } } }
    expect(validate(schema, { a: ['x', null] })).toEqual([])
    expect(validate(schema, { a: [1] })).toEqual(['$.a[0]: expected string or null, got number'])
    expect(validate(schema, { b: 2 })).toEqual(['$: missing required "a"', '$.b: 2 is not one of [1]'])
  })
})
