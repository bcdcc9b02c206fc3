import { describe, expect, it } from 'vitest'
import { januaErrorOf } from '../helpers/foundation.js'
import { ident, qualified, validateSlug } from '../../src/sql/ident.js'

describe('validateSlug', () => {
  it.each(['a', 'acme', 'acme-corp', 'a1', 'x-1-2', 'b2b', 'z'.repeat(40), `a${'-b'.repeat(19)}`])('accepts %j', (slug) => {
    expect(validateSlug(slug)).toBe(slug)
  })

  it.each([
    ['Acme', 'uppercase'],
    ['a;drop', 'SQL punctuation'],
    ['pg_x', 'pg prefix with underscore'],
    ['pgx', 'pg prefix'],
    ['public', 'reserved'],
    ['janua', 'reserved'],
    ['shared', 'reserved'],
    ['template', 'reserved'],
    ['', 'empty'],
    ['a'.repeat(41), '41 characters'],
    ['a'.repeat(64), '64 characters'],
    ['acme-', 'trailing -'],
    ['a--b', 'double -'],
    ['1acme', 'digit first'],
    ['-acme', 'dash first'],
    ['ac me', 'space'],
    ['acme_corp', 'underscore'],
    ['acmé', 'non-ASCII'],
    ['acme\n', 'trailing newline'],
    ['a"b', 'quote'],
  ])('rejects %j (%s) with exit code 2', (slug) => {
    const error = januaErrorOf(() => validateSlug(slug))
    expect(error.exitCode).toBe(2)
    expect(error.code).toBe('invalid_input')
    expect(error.hint).toBeTruthy()
  })

  it('rejects undefined with exit code 2', () => {
    expect(januaErrorOf(() => validateSlug(undefined)).exitCode).toBe(2)
  })
})

describe('ident', () => {
  it('double-quotes plain names', () => {
    expect(ident('users')).toBe('"users"')
    expect(ident('Users')).toBe('"Users"')
    expect(ident('tenant_acme-corp')).toBe('"tenant_acme-corp"')
  })

  it('doubles embedded quotes, so a name can never close the identifier', () => {
    expect(ident('a"b')).toBe('"a""b"')
    expect(ident('"')).toBe('""""')
    expect(ident('x"; drop table users; --')).toBe('"x""; drop table users; --"')
  })

  it('keeps other punctuation inside the quotes', () => {
    expect(ident("a'b")).toBe('"a\'b"')
    expect(ident('a.b')).toBe('"a.b"')
  })

  it('qualified() quotes both parts', () => {
    expect(qualified('tenant_a"x', 'users')).toBe('"tenant_a""x"."users"')
  })

  it('accepts 63 bytes and refuses 64 (PostgreSQL would silently truncate)', () => {
    expect(ident('a'.repeat(63))).toBe(`"${'a'.repeat(63)}"`)
    expect(() => ident('a'.repeat(64))).toThrow()
  })

  it('counts the 63-byte limit in bytes, not characters', () => {
    // 31 two-byte characters = 62 bytes: fine; 32 of them = 64 bytes: PostgreSQL truncates it.
    expect(ident('é'.repeat(31))).toBe(`"${'é'.repeat(31)}"`)
    expect(() => ident('é'.repeat(32))).toThrow()
    expect(() => ident(`${'a'.repeat(62)}é`)).toThrow()
  })

  it('refuses empty names and NUL bytes', () => {
    expect(() => ident('')).toThrow()
    expect(() => ident('a\0b')).toThrow()
  })
})
