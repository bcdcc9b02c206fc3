import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DEFAULT_TENANT_COLUMNS, parseTenantColumns, renderTenantList, TENANT_COLUMN_NAMES } from '../../src/cli/render.js'
import { JanuaError } from '../../src/core/errors.js'
import type { Tenant } from '../../src/core/tenants.js'

const tenant: Tenant = {
  id: '00000000-0000-4000-8000-000000000001',
  slug: 'acme',
  name: 'Acme',
  status: 'active',
  isolation: 'schema',
  placement: { server: 'primary', database: 'app', schema: 'tenant_acme' },
  version: 4,
  commercialStatus: 'trial',
  plan: 'pro',
}

describe('tenant list --columns', () => {
  it('no flag: the default columns', () => {
    expect(parseTenantColumns(undefined)).toEqual(DEFAULT_TENANT_COLUMNS)
  })

  it('any list of known columns (any case, spaces around commas) is kept in its order', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TENANT_COLUMN_NAMES), { minLength: 1, maxLength: 6 }), fc.boolean(), (names, upper) => {
        const text = names.map((n) => (upper ? n.toUpperCase() : n)).join(' , ')
        expect(parseTenantColumns(text)).toEqual(names)
      }),
    )
  })

  it('an unknown column or an empty list: exit 2 naming the columns there are', () => {
    for (const text of ['slug,bogus', '', ' , ']) {
      let error: unknown
      try {
        parseTenantColumns(text)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(JanuaError)
      expect((error as JanuaError).exitCode).toBe(2)
      expect((error as JanuaError).hint).toContain('slug, name, status')
    }
  })

  it('piped: tab-separated cells of exactly those columns', () => {
    expect(renderTenantList([tenant], { tsv: true, columns: ['slug', 'server', 'commercial-status', 'version'] })).toBe('acme\tprimary\ttrial\t4')
    expect(renderTenantList([tenant], { tsv: true, header: true, columns: ['slug', 'plan'] })).toBe('SLUG\tPLAN\nacme\tpro')
  })
})
