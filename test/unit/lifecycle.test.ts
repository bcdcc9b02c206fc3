import { describe, expect, it } from 'vitest'
import { checkServerMajor, decideImport } from '../../src/core/archive/import.js'
import type { ArchiveManifest } from '../../src/core/archive/format.js'
import { decideSuspension, decideUpdate } from '../../src/core/lifecycle.js'
import { JanuaError } from '../../src/core/errors.js'

const refused = (fn: () => unknown) => {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(JanuaError)
    return error as JanuaError
  }
  throw new Error('expected a refusal')
}

describe('decideUpdate', () => {
  const current = { slug: 'acme', name: 'Acme', commercialStatus: 'active' as const, plan: null, limits: { seats: 3 }, domain: null }
  it('sets status, plan, limits (JSON values, text otherwise, null removes) and name', () => {
    expect(decideUpdate(current, { status: 'trial', plan: 'pro', limits: ['max_users=50', 'sso=true', 'tier=gold', 'seats=null'], name: ' Acme Inc ' })).toEqual({
      slug: 'acme',
      name: 'Acme Inc',
      commercialStatus: 'trial',
      plan: 'pro',
      limits: { max_users: 50, sso: true, tier: 'gold' },
      domain: null,
      changed: ['status', 'plan', 'limits.max_users', 'limits.sso', 'limits.tier', 'limits.seats', 'name'],
    })
  })
  it('refuses status suspended (tenant suspend sets it), a suspended tenant, bad limits, nothing to do: exit 2', () => {
    expect(refused(() => decideUpdate(current, { status: 'suspended' })).hint).toContain('janua tenant suspend acme')
    expect(refused(() => decideUpdate({ ...current, commercialStatus: 'suspended' }, { status: 'active' })).hint).toContain('janua tenant resume acme')
    expect(refused(() => decideUpdate(current, { status: 'gone' })).exitCode).toBe(2)
    expect(refused(() => decideUpdate(current, { limits: ['=3'] })).exitCode).toBe(2)
    expect(refused(() => decideUpdate(current, { plan: 'a b' })).exitCode).toBe(2)
    expect(refused(() => decideUpdate(current, {})).exitCode).toBe(2)
    expect(refused(() => decideUpdate(current, { domain: 'no spaces.example' })).exitCode).toBe(2)
  })
  it('sets the domain (stored lowercase, without the trailing dot) or removes it', () => {
    expect(decideUpdate(current, { domain: 'App.Acme.Example.' })).toMatchObject({ domain: 'app.acme.example', changed: ['domain'] })
    expect(decideUpdate({ ...current, domain: 'app.acme.example' }, { domain: null })).toMatchObject({ domain: null, changed: ['domain'] })
  })
})

describe('decideSuspension', () => {
  const now = new Date('2026-01-01T00:00:00Z')
  it('keeps the status to restore, the first time and reason across a change of mode', () => {
    const first = decideSuspension({ status: 'active', commercialStatus: 'trial', suspension: null }, { reason: 'unpaid' }, now)
    expect(first).toEqual({ mode: 'read-only', reason: 'unpaid', at: now.toISOString(), previousStatus: 'trial' })
    expect(decideSuspension({ status: 'active', commercialStatus: 'suspended', suspension: first }, { noRead: true }, new Date())).toEqual({ ...first, mode: 'no-read' })
  })
  it('refuses a tenant that is moving', () => {
    expect(refused(() => decideSuspension({ status: 'moving', commercialStatus: 'active', suspension: null }, {}, now)).exitCode).toBe(2)
  })
})

describe('decideImport', () => {
  const manifest = {
    tenant: { id: '00000000-0000-4000-8000-000000000001', slug: 'acme', isolation: 'schema' },
    templates: [{ file: '0001_a.sql', version: 1, sha256: 'aa' }],
  } as unknown as ArchiveManifest
  const set = {
    dir: '/t',
    files: [
      { name: '0001_a.sql', sha256: 'aa' },
      { name: '0002_b.sql', sha256: 'bb' },
    ],
  } as never
  const free = { idTaken: false, slugTaken: false }
  it('keeps the id and level by default; --as, --isolation, --new-id', () => {
    expect(decideImport(manifest, set, free, {})).toEqual({ slug: 'acme', isolation: 'schema', id: manifest.tenant.id })
    expect(decideImport(manifest, set, { idTaken: true, slugTaken: false }, { as: 'b', isolation: 'database', newId: true })).toEqual({
      slug: 'b',
      isolation: 'database',
      id: undefined,
    })
  })
  it('refuses other templates, a taken slug, a taken id without --new-id: exit 2', () => {
    const other = { dir: '/t', files: [{ name: '0001_a.sql', sha256: 'XX' }] } as never
    expect(refused(() => decideImport(manifest, other, free, {})).message).toContain('0001_a.sql')
    expect(refused(() => decideImport(manifest, set, { idTaken: false, slugTaken: true }, {})).exitCode).toBe(2)
    expect(refused(() => decideImport(manifest, set, { idTaken: true, slugTaken: false }, {})).hint).toContain('--new-id')
  })
})

describe('checkServerMajor', () => {
  it('the same or a newer major imports; an older one is refused (exit 2) naming both', () => {
    expect(() => checkServerMajor(150004, 150019, 'server primary')).not.toThrow()
    expect(() => checkServerMajor(150004, 180001, 'server primary')).not.toThrow()
    expect(refused(() => checkServerMajor(170002, 150019, 'server primary')).message).toBe('the archive was exported from PostgreSQL 17; server primary runs PostgreSQL 15')
  })
})
