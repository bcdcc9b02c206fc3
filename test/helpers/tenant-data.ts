import pg from 'pg'
import { ident as q } from '../../src/sql/ident.js'
import { asApp, sampleRowsSql } from './foundation.js'

async function withClient<T>(config: pg.ClientConfig, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...config, database })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Inserts rows into every template table for a tenant, through the app role, as an application would. */
export async function seedAsApp(admin: pg.ClientConfig, placement: { database: string; schema: string }, tenantId: string, times = 1): Promise<void> {
  await withClient(admin, placement.database, async (c) => {
    for (let i = 0; i < times; i++) await asApp(c, placement.schema, tenantId, () => c.query(sampleRowsSql()))
  })
}

export interface TenantSnapshot {
  /** per tenant table: row count and an md5 over the sorted row texts */
  tables: Record<string, string>
  sequences: Record<string, string>
}

/** Every tenant table's rows of one tenant, as text, and the identity sequences' positions. */
export async function snapshotTenant(admin: pg.ClientConfig, placement: { database: string; schema: string }, tenantId: string): Promise<TenantSnapshot> {
  return withClient(admin, placement.database, async (c) => {
    const { rows: tables } = await c.query<{ relname: string }>(
      `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = $1 and c.relkind = 'r' and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
        order by 1`,
      [placement.schema],
    )
    const result: TenantSnapshot = { tables: {}, sequences: {} }
    for (const { relname } of tables) {
      const { rows } = await c.query<{ n: string; h: string | null }>(
        `select count(*) as n, md5(string_agg(md5(t::text), ',' order by md5(t::text))) as h from ${q(placement.schema)}.${q(relname)} t where tenant_id = $1`,
        [tenantId],
      )
      result.tables[relname] = `${rows[0]!.n}:${rows[0]!.h}`
    }
    const { rows: seqs } = await c.query<{ name: string; last_value: string | null }>(
      `select sequencename as name, last_value::text from pg_sequences where schemaname = $1 order by 1`,
      [placement.schema],
    )
    for (const s of seqs) result.sequences[s.name] = s.last_value ?? 'null'
    return result
  })
}

/** Rows of a tenant left anywhere in a placement (0 when nothing is left). */
export async function tenantRowCount(admin: pg.ClientConfig, placement: { database: string; schema: string }, tenantId: string): Promise<number> {
  const snap = await snapshotTenant(admin, placement, tenantId)
  return Object.values(snap.tables).reduce((n, v) => n + Number(v.split(':')[0]), 0)
}

/** What the app role sees of a tenant at a placement: users visible with app.current_tenant set. */
export async function appReads(admin: pg.ClientConfig, placement: { database: string; schema: string }, tenantId: string): Promise<number> {
  return withClient(admin, placement.database, (c) =>
    asApp(c, placement.schema, tenantId, async () => Number((await c.query<{ n: string }>('select count(*) as n from users')).rows[0]!.n)),
  )
}

/** An insert of a users row as the app role for a tenant; returns the SQLSTATE of the failure, or 'ok'. */
export async function appWrite(admin: pg.ClientConfig, placement: { database: string; schema: string }, tenantId: string): Promise<string> {
  return withClient(admin, placement.database, (c) =>
    asApp(c, placement.schema, tenantId, () => c.query(`insert into users (tenant_id, email) values ($1, gen_random_uuid()::text || '@example.com')`, [tenantId])).then(
      () => 'ok',
      (error: { code?: string }) => error.code ?? 'error',
    ),
  )
}
