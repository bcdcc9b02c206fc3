import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { validateDomain } from '../../src/core/directory.js'
import { connectionString, judgeTenantRoleReach, loginRole, parseGrace, scramVerifier } from '../../src/core/tenant-access.js'
import { parseKey, seal, unseal } from '../../src/core/sealed.js'

describe('tenant access, pure parts', () => {
  it('role names carry the control plane id and stay within 63 bytes for the longest slug', () => {
    const name = loginRole('0123abcd', 'a'.repeat(40), 'b')
    expect(name).toBe(`janua_0123abcd_t_${'a'.repeat(40)}_b`)
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63)
  })

  it('SCRAM verifier: PostgreSQL format, random salt, no password in it', () => {
    const v = scramVerifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'))
    expect(v).toMatch(/^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/)
    expect(v).not.toContain('pencil')
    expect(scramVerifier('pencil')).not.toBe(scramVerifier('pencil'))
  })

  it('--grace durations: 30s, 2m, 1h, 7d, plain ms; anything else exit 2', () => {
    expect(parseGrace('30s')).toBe(30_000)
    expect(parseGrace('2m')).toBe(120_000)
    expect(parseGrace('1h')).toBe(3_600_000)
    expect(parseGrace('7d')).toBe(7 * 86_400_000)
    expect(parseGrace('1500')).toBe(1500)
    expect(parseGrace('0')).toBe(0)
    expect(parseGrace(undefined)).toBe(3_600_000)
    for (const bad of ['soon', '-1s', '1y', '', '400d']) expect(() => parseGrace(bad)).toThrow(expect.objectContaining({ exitCode: 2 }))
  })

  it('connection strings: TCP, IPv6, a socket directory, encoded password', () => {
    expect(connectionString('r', 'p/w@', 'db.example.com', 5433, 'app')).toBe('postgresql://r:p%2Fw%40@db.example.com:5433/app')
    expect(connectionString('r', 'p', '::1', 5432, 'app')).toBe('postgresql://r:p@[::1]:5432/app')
    expect(connectionString('r', 'p', '/var/run/postgresql', 5432, 'app')).toBe('postgresql://r:p@/app?host=%2Fvar%2Frun%2Fpostgresql&port=5432')
  })

  it('reach of a tenant role: its own placement is fine; anything else is lint/tenant-role-reach', () => {
    const own = { server: 'primary', database: 'janua_x_a', schema: 'tenant' }
    expect(judgeTenantRoleReach('r', own, { connect: ['janua_x_a'], usage: [{ database: 'janua_x_a', schema: 'tenant' }], attributes: [] })).toEqual([])
    const findings = judgeTenantRoleReach('r', own, {
      connect: ['janua_x_a', 'janua_x_b'],
      usage: [{ database: 'janua_x_a', schema: 'janua_shared' }],
      attributes: ['BYPASSRLS'],
    })
    expect(findings.map((f) => [f.code, f.object])).toEqual([
      ['lint/tenant-role-reach', 'database janua_x_b'],
      ['lint/tenant-role-reach', 'schema janua_x_a.janua_shared'],
      ['lint/tenant-role-reach', 'role r'],
    ])
  })

  it('wrapping: AES-256-GCM bound to its tenant and version; another key or binding does not open it', () => {
    const key = randomBytes(32)
    const data = randomBytes(32)
    const wrapped = seal(key, data, 'janua tenant key t1 v1')
    expect(unseal(key, wrapped, 'janua tenant key t1 v1')).toEqual(data)
    expect(unseal(key, wrapped, 'janua tenant key t2 v1')).toBeUndefined()
    expect(unseal(randomBytes(32), wrapped, 'janua tenant key t1 v1')).toBeUndefined()
    expect(parseKey(key.toString('hex'))).toEqual(key)
    expect(parseKey(key.toString('base64'))).toEqual(key)
    expect(parseKey('short')).toBeUndefined()
  })

  it('domains: lowercase, no trailing dot, host names only', () => {
    expect(validateDomain('Acme.Example.COM.')).toBe('acme.example.com')
    for (const bad of ['not a domain', '-x.com', 'a..b', 'x_y.com']) expect(() => validateDomain(bad)).toThrow(expect.objectContaining({ exitCode: 2 }))
  })
})
