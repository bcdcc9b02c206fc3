import { describe, expect, it } from 'vitest'
import { parseLockTimeout } from '../../src/core/tenant-lock.js'
import { januaErrorOf } from '../helpers/foundation.js'

describe('--lock-timeout', () => {
  it('takes milliseconds (as before) and durations; the default is 30 s; 0 fails at once', () => {
    expect(parseLockTimeout(undefined)).toBe(30_000)
    expect(parseLockTimeout('0')).toBe(0)
    expect(parseLockTimeout('300')).toBe(300)
    expect(parseLockTimeout('500ms')).toBe(500)
    expect(parseLockTimeout('30s')).toBe(30_000)
    expect(parseLockTimeout('1.5s')).toBe(1500)
    expect(parseLockTimeout('2m')).toBe(120_000)
    expect(parseLockTimeout('2min')).toBe(120_000)
    expect(parseLockTimeout('1h')).toBe(3_600_000)
    expect(parseLockTimeout('24h')).toBe(86_400_000)
  })

  it.each(['-1', '-5s', '25h', '86400001', '99999999999999999999', 'soon', '1e3', '30 seconds', '1d', ''])('refuses %j with exit 2, saying why and how', (value) => {
    const error = januaErrorOf(() => parseLockTimeout(value))
    expect(error.exitCode).toBe(2)
    expect(error.message).toMatch(/^invalid --lock-timeout ".*": /)
    expect(error.message).not.toContain('\n')
    expect(error.hint).toMatch(/30s, 2m, or 0/)
  })
})
