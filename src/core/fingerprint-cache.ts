import type pg from 'pg'
import { CATALOG_FORMAT, catalogToken } from '../catalog/snapshot.js'
import { withClient } from '../db/connection.js'
import type { Janua } from './context.js'
import { sha256 } from './templates.js'

/**
 * Fingerprints kept per schema in janua.schema_fingerprints (control-plane step 6; read-only
 * commands require the current step) with the
 * catalog token of their database at the time they were read (src/catalog/snapshot.ts,
 * catalogToken): while the token is unchanged, no catalog row of that database changed, so the
 * kept fingerprint is the one a fresh read would give. The token is read before the fingerprints
 * it is stored with, so a change made in between only makes the next run read them again.
 */
export interface FingerprintCache {
  /** the kept fingerprint of a schema, when its database's catalog is unchanged since */
  kept(schema: string): string | undefined
  /** keeps freshly read fingerprints */
  keep(prints: Map<string, string>): Promise<void>
}

/** client: a session in the database; catalogPool (its pool, when there is one): more sessions to read the catalog token on. */
export async function openFingerprintCache(janua: Janua, client: pg.ClientBase, placement: { server: string; database: string }, catalogPool?: pg.Pool): Promise<FingerprintCache> {
  const pool = janua.conn.primaryPool()
  const token = sha256(JSON.stringify([CATALOG_FORMAT, janua.appRole, await catalogToken(client, catalogPool)]))
  const { rows } = await withClient(pool, (c) =>
    c.query<{ schema: string; fingerprint: string }>('select schema, fingerprint from janua.schema_fingerprints where server = $1 and database = $2 and token = $3', [
      placement.server,
      placement.database,
      token,
    ]),
  )
  const kept = new Map(rows.map((r) => [r.schema, r.fingerprint]))
  return {
    kept: (schema) => kept.get(schema),
    keep: async (prints) => {
      if (!prints.size) return
      await withClient(pool, (c) =>
        c.query(
          `insert into janua.schema_fingerprints (server, database, schema, token, fingerprint)
           select $1, $2, s, $3, f from unnest($4::text[], $5::text[]) u(s, f)
           on conflict (server, database, schema) do update set token = excluded.token, fingerprint = excluded.fingerprint, read_at = now()`,
          [placement.server, placement.database, token, [...prints.keys()], [...prints.values()]],
        ),
      )
    },
  }
}

/** Drops kept fingerprints of schemas that are no placement any more (after an unfiltered verify). */
export async function forgetFingerprints(janua: Janua, placements: { server: string; database: string; schema: string }[]): Promise<void> {
  await withClient(janua.conn.primaryPool(), (c) =>
    c.query(
      `delete from janua.schema_fingerprints f
        where not exists (select 1 from unnest($1::text[], $2::text[], $3::text[]) p(server, database, schema)
                           where p.server = f.server and p.database = f.database and p.schema = f.schema)`,
      [placements.map((p) => p.server), placements.map((p) => p.database), placements.map((p) => p.schema)],
    ),
  )
}
