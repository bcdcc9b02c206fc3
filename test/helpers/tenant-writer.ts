import pg from 'pg'
import { ident as q } from '../../src/sql/ident.js'
import { asApp } from './foundation.js'

/**
 * An application writing one tenant's rows while janua moves it: before every transaction it asks
 * the control plane where the tenant lives now and writes there as the app role, as a router with
 * no cache would. It inserts users (with a session) and analytics events, updates users and
 * sessions (also session-then-user, the reverse of the foreign key order, in one transaction) and
 * deletes users (cascading to their sessions). A write refused with SQLSTATE 55000 (the move's
 * fence) is retried. What it committed is kept in a model the test compares the target with.
 */
export interface WriterModel {
  /** users the writer created and did not delete: id -> display_name */
  users: Map<string, string>
  /** sessions of those users: id -> user_agent */
  sessions: Map<string, string>
  /** analytics events the writer inserted: id -> seq */
  events: Map<string, string>
}

export interface WriterStats {
  committed: number
  /** writes refused by the fence (55000), each retried */
  fenced: number
  /** any other error, with the placement it happened at: the test expects none */
  errors: string[]
  /**
   * a write that failed, or succeeded, while the control plane's answer changed under it (read
   * before, read after differ): the router was stale for that one write. Failures are retried at
   * the new placement; a success is not counted in the model (its rows are listed in `unknown`).
   */
  stale: number
  unknown: Set<string>
  /** longest time between two committed writes, and the time of the last one */
  longestGapMs: number
  placements: string[]
}

export interface TenantWriter {
  model: WriterModel
  stats: WriterStats
  /** resolves after `n` more commits */
  commits(n: number): Promise<void>
  stop(): Promise<void>
}

interface Where {
  key: string
  database: string
  schema: string
  status: string
}

const pick = <T>(items: T[]): T | undefined => items[Math.floor(Math.random() * items.length)]

export function startWriter(admin: pg.ClientConfig, controlDatabase: string, tenantId: string, options: { pauseMs?: number } = {}): TenantWriter {
  const model: WriterModel = { users: new Map(), sessions: new Map(), events: new Map() }
  // session -> user, to follow the cascade of a user's delete in the model
  const sessionOwner = new Map<string, string>()
  const stats: WriterStats = { committed: 0, fenced: 0, errors: [], stale: 0, unknown: new Set(), longestGapMs: 0, placements: [] }
  const clients = new Map<string, pg.Client>()
  const control = new pg.Client({ ...admin, database: controlDatabase })
  let stopped = false
  let lastCommit = 0
  const waiters: { at: number; resolve: () => void }[] = []

  const where = async (): Promise<Where> => {
    const { rows } = await control.query<{ database: string; schema: string; status: string }>(
      `select p.database, p.schema, t.status from janua.tenants t join janua.placements p on p.id = t.placement_id where t.id = $1`,
      [tenantId],
    )
    const r = rows[0]!
    return { key: `${r.database}/${r.schema}`, ...r }
  }
  const clientFor = async (database: string): Promise<pg.Client> => {
    let client = clients.get(database)
    if (!client) {
      client = new pg.Client({ ...admin, database })
      // a dropped database terminates this session: the next query fails and the client is replaced
      client.on('error', () => clients.delete(database))
      await client.connect()
      clients.set(database, client)
    }
    return client
  }

  /** One application transaction; returns the model changes to apply once it committed. */
  const transaction = async (c: pg.Client): Promise<{ apply: () => void; ids: string[] }> => {
    const users = [...model.users.keys()].filter((id) => !stats.unknown.has(id))
    const sessions = [...model.sessions.keys()].filter((id) => !stats.unknown.has(id))
    const roll = Math.random()
    if (roll < 0.35 || users.length < 5) {
      const u = await c.query<{ id: string }>(`insert into users (tenant_id, email, display_name) values ($1, 'w-' || gen_random_uuid() || '@example.test', 'v0') returning id`, [
        tenantId,
      ])
      const userId = u.rows[0]!.id
      const s = await c.query<{ id: string }>(
        `insert into sessions (tenant_id, user_id, refresh_token_hash, user_agent, expires_at)
        values ($1, $2, sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'writer', now() + interval '1 day') returning id`,
        [tenantId, userId],
      )
      const sessionId = s.rows[0]!.id
      return {
        ids: [userId, sessionId],
        apply: () => {
          model.users.set(userId, 'v0')
          model.sessions.set(sessionId, 'writer')
          sessionOwner.set(sessionId, userId)
        },
      }
    }
    if (roll < 0.5) {
      const e = await c.query<{ id: string; seq: string }>(
        `insert into analytics_events (tenant_id, event_name, properties) values ($1, 'writer', '{"n": 1}') returning id, seq::text`,
        [tenantId],
      )
      const { id, seq } = e.rows[0]!
      return { ids: [id], apply: () => model.events.set(id, seq) }
    }
    if (roll < 0.75) {
      const id = pick(users)!
      const name = `v${Math.floor(Math.random() * 1e9)}`
      await c.query(`update users set display_name = $2, updated_at = now() where id = $1`, [id, name])
      return { ids: [id], apply: () => model.users.set(id, name) }
    }
    if (roll < 0.88 && sessions.length) {
      // session first, then its user: the reverse of the order a foreign-key cascade locks them in
      const sessionId = pick(sessions)!
      const userId = sessionOwner.get(sessionId)!
      const agent = `writer-${Math.floor(Math.random() * 1e9)}`
      const name = `v${Math.floor(Math.random() * 1e9)}`
      await c.query(`update sessions set user_agent = $2 where id = $1`, [sessionId, agent])
      await c.query(`update users set display_name = $2 where id = $1`, [userId, name])
      return {
        ids: [sessionId, userId],
        apply: () => {
          model.sessions.set(sessionId, agent)
          model.users.set(userId, name)
        },
      }
    }
    const id = pick(users)!
    await c.query(`delete from users where id = $1`, [id])
    return {
      ids: [id, ...[...sessionOwner].filter(([, owner]) => owner === id).map(([sid]) => sid)],
      apply: () => {
        model.users.delete(id)
        // the cascade took its sessions
        for (const [sid, owner] of sessionOwner) if (owner === id) model.sessions.delete(sid)
      },
    }
  }
  const loop = async () => {
    await control.connect()
    lastCommit = Date.now()
    while (!stopped) {
      const before = await where()
      if (!stats.placements.includes(before.key)) stats.placements.push(before.key)
      try {
        const c = await clientFor(before.database)
        const done = await asApp(c, before.schema, tenantId, () => transaction(c))
        const after = await where()
        if (after.key !== before.key) {
          stats.stale++
          for (const id of done.ids) stats.unknown.add(id)
          continue
        }
        done.apply()
        const at = Date.now()
        stats.longestGapMs = Math.max(stats.longestGapMs, at - lastCommit)
        lastCommit = at
        stats.committed++
        for (const w of waiters.filter((x) => stats.committed >= x.at)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve()
        }
      } catch (error) {
        const e = error as { code?: string; message?: string }
        if (e.code === '55000') {
          stats.fenced++
          await new Promise((r) => setTimeout(r, 5))
          continue
        }
        const after = await where()
        if (after.key !== before.key) {
          stats.stale++
          continue
        }
        stats.errors.push(`${e.code ?? 'no sqlstate'} at ${before.key} (${before.status}): ${e.message}`)
        await new Promise((r) => setTimeout(r, 20))
      }
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs))
    }
  }
  const running = loop()
  let stopping: Promise<void> | undefined

  return {
    model,
    stats,
    commits: (n) => new Promise<void>((resolve) => waiters.push({ at: stats.committed + n, resolve })),
    stop() {
      stopping ??= (async () => {
        stopped = true
        try {
          await running
        } finally {
          for (const c of [control, ...clients.values()]) await c.end().catch(() => undefined) // a session already ended by a dropped database
        }
        // the gap up to the stop counts too: a writer stuck at the end is a writer stuck
        stats.longestGapMs = Math.max(stats.longestGapMs, Date.now() - lastCommit)
      })()
      return stopping
    },
  }
}

/** What the writer's rows look like at a placement, in the model's shape (for an exact comparison). */
export async function writerRowsAt(admin: pg.ClientConfig, placement: { database: string; schema: string }, tenantId: string): Promise<WriterModel & { duplicates: number }> {
  const c = new pg.Client({ ...admin, database: placement.database })
  await c.connect()
  try {
    const s = q(placement.schema)
    const users = await c.query<{ id: string; display_name: string }>(`select id, display_name from ${s}.users where tenant_id = $1 and email like 'w-%'`, [tenantId])
    const sessions = await c.query<{ id: string; user_agent: string }>(`select id, user_agent from ${s}.sessions where tenant_id = $1 and user_agent like 'writer%'`, [tenantId])
    const events = await c.query<{ id: string; seq: string }>(`select id, seq::text from ${s}.analytics_events where tenant_id = $1 and event_name = 'writer'`, [tenantId])
    const all = users.rows.length + sessions.rows.length + events.rows.length
    const model: WriterModel = {
      users: new Map(users.rows.map((r) => [r.id, r.display_name])),
      sessions: new Map(sessions.rows.map((r) => [r.id, r.user_agent])),
      events: new Map(events.rows.map((r) => [r.id, r.seq])),
    }
    return { ...model, duplicates: all - (model.users.size + model.sessions.size + model.events.size) }
  } finally {
    await c.end()
  }
}

/** The model without the rows of stale-routed writes (their fate is unknown by construction). */
export function expectedRows(model: WriterModel, unknown: Set<string>): WriterModel {
  const keep = <V>(m: Map<string, V>) => new Map([...m].filter(([id]) => !unknown.has(id)))
  return { users: keep(model.users), sessions: keep(model.sessions), events: keep(model.events) }
}

/** Drops the rows of unknown fate from what was found, so found and expected compare exactly. */
export function withoutUnknown(found: WriterModel, unknown: Set<string>): WriterModel {
  return expectedRows(found, unknown)
}
