import { describe, expect, it } from 'vitest'
import { decideContinuation, decideMove, type MoveFacts } from '../../src/core/move/plan.js'
import { JanuaError } from '../../src/core/errors.js'

/** Facts of a schema tenant moving to a database on the same server; each test changes one fact. */
function facts(change: (f: MoveFacts) => void = () => {}): MoveFacts {
  const f: MoveFacts = {
    tenant: {
      id: '5b1c6f9e-0000-4000-8000-000000000001',
      slug: 'acme',
      name: 'Acme',
      status: 'active',
      isolation: 'schema',
      placementId: '7',
      placement: { server: 'primary', database: 'app', schema: 'tenant_acme' },
    },
    request: { to: 'database', server: 'primary', keepSource: false, capture: 'auto' },
    from: { sharesPlacement: false },
    to: { sharesPlacement: false },
    source: {
      version: 4,
      tables: [
        { name: 'users', hasTenantId: true, rlsEnabled: true, rlsForced: true, rows: 10, foreign: 0, bytes: 1000, checksum: '', primaryKey: ['id'] },
        { name: 'billing_plans', hasTenantId: false, rlsEnabled: false, rlsForced: false, rows: 4, foreign: 0, bytes: 400, checksum: 'c1', primaryKey: ['code'] },
      ],
    },
    target: { placement: { server: 'primary', database: 'janua_abcd1234_acme', schema: 'tenant' }, exists: false, version: null, reference: {} },
    leftoversAtTarget: [],
    keptAs: { server: 'primary', database: 'app', schema: 'janua_moved_20261130_acme' },
    sharedRefusal: null,
  }
  change(f)
  return f
}

const refusal = (f: MoveFacts) => {
  try {
    decideMove(f)
  } catch (error) {
    expect(error).toBeInstanceOf(JanuaError)
    expect((error as JanuaError).exitCode).toBe(2)
    return (error as JanuaError).message
  }
  throw new Error('expected a refusal')
}

describe('decideMove (pure)', () => {
  it('plans every table: tenant rows, and rows without tenant_id copied whole from a placement of its own', () => {
    const plan = decideMove(facts())
    expect(plan.tables).toEqual([
      { name: 'users', mode: 'tenant', rows: 10, bytes: 1000 },
      { name: 'billing_plans', mode: 'whole', rows: 4, bytes: 400 },
    ])
    expect(plan.version).toBe(4)
    expect(plan.keptAs).toBeNull()
    expect(plan.steps[0]).toBe('planned')
  })

  it('treats rows without tenant_id of a shared source as template data (not copied)', () => {
    const plan = decideMove(
      facts((f) => {
        f.from.sharesPlacement = true
      }),
    )
    expect(plan.tables[1]!.mode).toBe('reference')
  })

  it('keeps the source where the request asks for it', () => {
    expect(
      decideMove(
        facts((f) => {
          f.request.keepSource = true
        }),
      ).keptAs,
    ).toEqual({ server: 'primary', database: 'app', schema: 'janua_moved_20261130_acme' })
  })

  it('moves online (trigger capture) when every copied table has a primary key, else offline, saying why', () => {
    const online = decideMove(facts())
    expect(online.capture.mode).toBe('trigger')
    expect(online.capture.tables).toEqual([
      { name: 'users', key: ['id'], tenantRows: true },
      { name: 'billing_plans', key: ['code'], tenantRows: false },
    ])
    expect(online.steps).toContain('caught-up')
    const keyless = decideMove(
      facts((f) => {
        f.source.tables[0]!.primaryKey = null
      }),
    )
    expect(keyless.capture).toMatchObject({ mode: 'none', reason: expect.stringMatching(/no primary key on users/) })
    expect(keyless.steps).not.toContain('caught-up')
    expect(
      refusal(
        facts((f) => {
          f.source.tables[0]!.primaryKey = null
          f.request.capture = 'trigger'
        }),
      ),
    ).toMatch(/needs a primary key/)
    expect(
      decideMove(
        facts((f) => {
          f.request.capture = 'none'
        }),
      ).capture.mode,
    ).toBe('none')
  })

  it('captures by logical decoding where the source allows it (wal_level, a free slot, REPLICATION, replica identity), else trigger; forced logical refused with the reason', () => {
    const logical = (f: MoveFacts) => {
      f.source.logical = { walLevel: 'logical', freeSlots: 3, canReplicate: true }
      for (const t of f.source.tables) t.replicaIdentity = t.primaryKey
    }
    const ok = decideMove(facts(logical))
    expect(ok.capture).toMatchObject({ mode: 'logical', rowFilter: false })
    expect(ok.steps).toContain('caught-up')
    const blocked: [string, (f: MoveFacts) => void, RegExp][] = [
      ['wal_level', (f) => (f.source.logical!.walLevel = 'replica'), /wal_level = replica/],
      ['slots', (f) => (f.source.logical!.freeSlots = 0), /no free replication slot/],
      ['role', (f) => (f.source.logical!.canReplicate = false), /may not replicate/],
      ['identity', (f) => (f.source.tables[0]!.replicaIdentity = null), /replica identity of users/],
      [
        'shared identity without tenant_id',
        (f) => {
          f.from.sharesPlacement = true
          f.source.tables[0]!.replicaIdentity = ['id']
        },
        /replica identity of users does not cover tenant_id/,
      ],
    ]
    for (const [, change, why] of blocked) {
      const auto = decideMove(
        facts((f) => {
          logical(f)
          change(f)
        }),
      )
      expect(auto.capture.mode).toBe('trigger')
      expect(auto.capture.reason).toMatch(why)
      expect(
        refusal(
          facts((f) => {
            logical(f)
            change(f)
            f.request.capture = 'logical'
          }),
        ),
      ).toMatch(why)
    }
    // a shared source publishes through a row filter, which needs tenant_id in the identity
    const shared = decideMove(
      facts((f) => {
        logical(f)
        f.from.sharesPlacement = true
        f.source.tables[0]!.replicaIdentity = ['tenant_id', 'id']
      }),
    )
    expect(shared.capture).toMatchObject({ mode: 'logical', rowFilter: true })
    expect(
      decideMove(
        facts((f) => {
          logical(f)
          f.request.capture = 'trigger'
        }),
      ).capture.mode,
    ).toBe('trigger')
  })

  it('refuses a tenant that is not active, a move to where it is, and a taken target', () => {
    expect(
      refusal(
        facts((f) => {
          f.tenant.status = 'moving'
        }),
      ),
    ).toMatch(/is moving/)
    expect(
      refusal(
        facts((f) => {
          f.request.to = 'schema'
        }),
      ),
    ).toMatch(/already schema on server primary/)
    expect(
      refusal(
        facts((f) => {
          f.target.exists = true
        }),
      ),
    ).toMatch(/already exists/)
  })

  it('refuses while a leftover of the tenant is at the target, pointing to cleanup', () => {
    expect(
      refusal(
        facts((f) => {
          f.leftoversAtTarget = [{ kind: 'kept-source', placement: f.target.placement }]
        }),
      ),
    ).toMatch(/kept-source of acme/)
  })

  it('refuses to drop rows of another tenant id held in a placement of its own', () => {
    expect(
      refusal(
        facts((f) => {
          f.source.tables[0]!.foreign = 3
        }),
      ),
    ).toMatch(/users \(3 rows\)/)
  })

  it('into shared: refuses templates that cannot hold shared tenants, other versions, and differing reference rows', () => {
    const toShared = (f: MoveFacts) => {
      f.request.to = 'shared'
      f.to.sharesPlacement = true
      f.target = { placement: { server: 'primary', database: 'app', schema: 'janua_shared' }, exists: true, version: 4, reference: { billing_plans: { rows: 4, checksum: 'c1' } } }
    }
    expect(decideMove(facts(toShared)).tables[1]!.mode).toBe('reference')
    expect(
      refusal(
        facts((f) => {
          toShared(f)
          f.sharedRefusal = { message: 'no tenant_id', hint: 'h' }
        }),
      ),
    ).toBe('no tenant_id')
    expect(
      refusal(
        facts((f) => {
          toShared(f)
          f.target.version = 3
        }),
      ),
    ).toMatch(/version 4 but the shared placement .* is at 3/)
    expect(
      refusal(
        facts((f) => {
          toShared(f)
          f.target.reference = { billing_plans: { rows: 5, checksum: 'c2' } }
        }),
      ),
    ).toMatch(/billing_plans has no tenant_id/)
    // A shared placement the move will build (another server, first use) comes from the same templates.
    expect(
      decideMove(
        facts((f) => {
          toShared(f)
          f.target.exists = false
          f.target.version = null
          f.target.reference = {}
        }),
      ).version,
    ).toBe(4)
  })
})

describe('decideContinuation (pure)', () => {
  const pending = { step: 'fenced' as const, to: 'database' as const }
  it('starts, resumes or aborts', () => {
    expect(decideContinuation('acme', undefined, { to: 'schema' })).toBe('start')
    expect(decideContinuation('acme', pending, { resume: true })).toBe('resume')
    expect(decideContinuation('acme', pending, { abort: true })).toBe('abort')
  })
  it('refuses what cannot be done', () => {
    expect(() => decideContinuation('acme', pending, { to: 'schema' })).toThrow(/unfinished move \(step fenced/)
    expect(() => decideContinuation('acme', undefined, { resume: true })).toThrow(/no unfinished move/)
    expect(() => decideContinuation('acme', { step: 'switched', to: 'schema' }, { abort: true })).toThrow(/past the switch/)
    expect(() => decideContinuation('acme', pending, { resume: true, abort: true })).toThrow(/exclude each other/)
    expect(() => decideContinuation('acme', undefined, {})).toThrow(/--to is required/)
  })
})

describe('visibleIn (logical capture: a decoded transaction against a snapshot)', () => {
  it('sees what finished before the snapshot, not what ran or started after it, across an epoch', async () => {
    const { visibleIn } = await import('../../src/core/move/logical.js')
    expect(visibleIn('100:110:103,105', 99)).toBe(true)
    expect(visibleIn('100:110:103,105', 104)).toBe(true)
    expect(visibleIn('100:110:103,105', 103)).toBe(false)
    expect(visibleIn('100:110:', 110)).toBe(false)
    expect(visibleIn('100:110:', 5000)).toBe(false) // started after the snapshot: never taken for an old one
    const epoch = 1n << 32n
    expect(visibleIn(`${epoch - 5n}:${epoch + 3n}:`, 0xfffffffe)).toBe(true)
    expect(visibleIn(`${epoch - 5n}:${epoch + 3n}:`, 4)).toBe(false)
    expect(visibleIn(`${epoch + 10n}:${epoch + 20n}:`, 0xfffffff0)).toBe(true)
  })
})
