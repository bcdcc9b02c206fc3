import { describe, expect, it } from 'vitest'
import { strayMoveObjects } from '../../src/core/move/strays.js'
import { unplacedTenantRows } from '../../src/core/tenant-ids.js'

const A = '5b1c6f9e-0000-4000-8000-000000000001'
const B = '7c2d7fa0-0000-4000-8000-000000000002'
const prefix = (id: string) => id.replaceAll('-', '').slice(0, 16)

describe('stray move objects (pure)', () => {
  const objects = [
    { kind: 'capture-log' as const, object: `janua_capture.log_${prefix(A)}`, tenantPrefix: prefix(A) },
    { kind: 'capture-trigger' as const, object: 'janua_shared.users (janua_capture_x)', tenantPrefix: prefix(A) },
    { kind: 'fence-trigger' as const, object: 'janua_shared.users (janua_fence_y)', tenantPrefix: prefix(B) },
  ]
  it('keeps what a running move or a kept source owns', () => {
    expect(strayMoveObjects(objects, [A], [B])).toEqual([])
  })
  it('reports the rest: a capture left by a finished move, a fence of nobody', () => {
    expect(strayMoveObjects(objects, [], []).map((o) => o.kind)).toEqual(['capture-log', 'capture-trigger', 'fence-trigger'])
    expect(strayMoveObjects(objects, [], [A, B]).map((o) => o.kind)).toEqual(['capture-log', 'capture-trigger'])
  })
})

describe('unplaced tenant rows (pure)', () => {
  it('lists, per table, tenant ids that are not placed there', () => {
    const found = new Map([
      ['users', [A, B]],
      ['teams', [A]],
    ])
    expect(unplacedTenantRows(found, [A])).toEqual([{ table: 'users', tenantIds: [B] }])
    expect(unplacedTenantRows(found, [A, B])).toEqual([])
  })
})
