import { describe, expect, it } from 'vitest'
import { parseDatabaseUrl } from '../../src/db/connection.js'
import { redact, redactAll, rememberSecret } from '../../src/db/redact.js'

describe('redact: URLs', () => {
  it.each([
    ['postgres://u:pw1234@h/db', 'postgres://u:***@h/db'],
    ['postgresql://admin:s3cretPw@db.internal:5432/saas', 'postgresql://admin:***@db.internal:5432/saas'],
    ['postgres://u:pw1234@h1,h2/db', 'postgres://u:***@h1,h2/db'],
    ['postgres://u:pw1234@h1:5432,h2:5433/db?sslmode=require', 'postgres://u:***@h1:5432,h2:5433/db?sslmode=require'],
    ['postgres://:pw1234@h/db', 'postgres://:***@h/db'],
    ['postgres://u:p:w/x@h/db', 'postgres://u:***@h/db'],
    ['postgres://u:s3cr%40t@h/db', 'postgres://u:***@h/db'],
    ['connecting to postgres://u:pw1234@h/db failed', 'connecting to postgres://u:***@h/db failed'],
  ])('%s', (input, expected) => {
    expect(redact(input)).toBe(expected)
  })

  it('redacts every URL of a text', () => {
    const out = redact('from postgres://a:one111@h1/x to postgres://b:two222@h2/y')
    expect(out).not.toMatch(/one111|two222/)
    expect(out).toBe('from postgres://a:***@h1/x to postgres://b:***@h2/y')
  })

  it('redacts a password given as a query parameter', () => {
    const out = redact('postgresql://u@h/db?sslmode=require&password=s3cretPw')
    expect(out).not.toContain('s3cretPw')
    expect(out).toContain('sslmode=require')
  })

  it('leaves URLs without a password alone', () => {
    expect(redact('postgres://u@h:5432/db')).toBe('postgres://u@h:5432/db')
    expect(redact('postgres://h/db')).toBe('postgres://h/db')
  })
})

describe('redact: key=value strings', () => {
  it.each([
    ['password=secret host=x', '***', 'host=x'],
    ['host=x password=secret dbname=y', '***', 'dbname=y'],
    ["host=x password='se cret' dbname=y", '***', 'dbname=y'],
    ["host=x password='it\\'s secret' dbname=y", '***', 'dbname=y'],
    ['host=x password = secret dbname=y', '***', 'dbname=y'],
    ['host=x PASSWORD=secret', '***', 'host=x'],
    ['host=x sslpassword=secret', '***', 'host=x'],
  ])('%s', (input, stars, kept) => {
    const out = redact(input)
    expect(out).not.toMatch(/secret/)
    expect(out).toContain(stars)
    expect(out).toContain(kept)
  })

  it('keeps other keys intact', () => {
    expect(redact('host=x port=5432 user=admin password=secret dbname=y')).toBe('host=x port=5432 user=admin password=*** dbname=y')
  })
})

describe('redactAll', () => {
  it('removes a remembered secret wherever it appears, whatever its shape', () => {
    rememberSecret('Zq9-remembered-secret')
    expect(redactAll('error near "Zq9-remembered-secret" in line 1')).toBe('error near "***" in line 1')
  })

  it('remembers the password of every parsed database URL', () => {
    parseDatabaseUrl('postgres://u:Parsed%2FPw77@127.0.0.1:5432/db')
    expect(redactAll('auth failed for Parsed/Pw77')).toBe('auth failed for ***')
  })

  it('also applies the shape-based rules', () => {
    expect(redactAll('postgres://u:pw99999@h/db and password=abcdef')).toBe('postgres://u:***@h/db and password=***')
  })

  it('ignores secrets shorter than 3 characters (they would mangle any text)', () => {
    rememberSecret('ab')
    expect(redactAll('tab able')).toBe('tab able')
  })
})
