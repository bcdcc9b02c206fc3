import { describe, expect, it } from 'vitest'
import { judgeControlPlane } from '../../src/core/control-plane.js'
import { JanuaError } from '../../src/core/errors.js'

/** The one decision behind every command's control-plane check (issue 9 items 2 and 6). */
describe('judgeControlPlane', () => {
  const failure = (fn: () => unknown): JanuaError => {
    try {
      fn()
    } catch (error) {
      if (error instanceof JanuaError) return error
      throw error
    }
    throw new Error('expected a JanuaError')
  }

  it('no control plane: exit 2 saying to run janua db init, for reads and writes alike', () => {
    for (const use of ['read', 'write'] as const) {
      const e = failure(() => judgeControlPlane({ present: false }, use, 'app', 2))
      expect(e.exitCode).toBe(2)
      expect(e.message).toBe('there is no janua control plane in database app: run `janua db init` to create it, or point --database-url at the database that holds it')
    }
  })

  it("at this janua's version: go on, nothing to upgrade", () => {
    expect(judgeControlPlane({ present: true, id: 'abcd1234', schemaVersion: 2 }, 'read', 'app', 2)).toEqual({ id: 'abcd1234', upgrade: false })
    expect(judgeControlPlane({ present: true, id: 'abcd1234', schemaVersion: 2 }, 'write', 'app', 2)).toEqual({ id: 'abcd1234', upgrade: false })
  })

  it('behind: a read says to run janua db init (exit 2), a write upgrades', () => {
    const e = failure(() => judgeControlPlane({ present: true, id: 'abcd1234', schemaVersion: 1 }, 'read', 'app', 2))
    expect(e.exitCode).toBe(2)
    expect(e.message).toMatch(/schema version 1, older than this janua's 2: run `janua db init`/)
    expect(judgeControlPlane({ present: true, id: 'abcd1234', schemaVersion: 1 }, 'write', 'app', 2)).toEqual({ id: 'abcd1234', upgrade: true })
  })

  it('ahead: exit 1, upgrade janua', () => {
    for (const use of ['read', 'write'] as const) {
      const e = failure(() => judgeControlPlane({ present: true, id: 'abcd1234', schemaVersion: 3 }, use, 'app', 2))
      expect(e.exitCode).toBe(1)
      expect(e.hint).toBe('upgrade janua')
    }
  })
})
