import pg from 'pg'
import type { TestDatabase } from './db.js'

/** What a re-run prints on stderr while it waits for a tenant's lock (not under --json). */
export const WAITING = /^waiting up to 30 s for tenant "[a-z0-9-]+", locked by another janua run/m

/**
 * How long a stand-in keeps a lock after a re-run queued for it. A run killed with SIGKILL keeps
 * its session locks until its backend has finished its statement and notices the client is gone;
 * at a fault point the sessions are idle and let go within milliseconds, so to make "re-run at
 * once" bite, a stand-in backend takes the freed lock right after the kill and keeps it, as a dead
 * run's backend busy with a statement does, until the re-run queues for it and LINGER_MS more have
 * passed. Before --lock-timeout, such a re-run exited 4 at once.
 */
export const LINGER_MS = 1000

/**
 * A session on the test's database that takes the advisory lock `key` (waiting for a killed run's
 * backend to let go) and keeps it until another session has queued for it and `ms` more have
 * passed (or at most 20 s), then ends. Returns once it holds the lock.
 */
export async function lingeringHolder(db: TestDatabase, key: string, ms = LINGER_MS): Promise<{ released: Promise<void> }> {
  const client = new pg.Client({ ...db.admin, database: db.name })
  client.on('error', () => {
    // The stand-in's session only holds a lock; a lost connection lets the lock go, which the re-run then takes.
  })
  await client.connect()
  await client.query('select pg_advisory_lock(hashtextextended($1, 0))', [key])
  const released = (async () => {
    try {
      await client.query(`do $$ begin
        for i in 1..2000 loop
          exit when exists (select 1 from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database()));
          perform pg_sleep(0.01);
        end loop;
      end $$`)
      await client.query('select pg_sleep($1)', [ms / 1000])
    } finally {
      await client.end()
    }
  })()
  return { released }
}

/** Runs `run` while a stand-in holds tenant `slug`'s lock, as a killed run's lingering backend would. */
export async function whileTenantLocked<T>(db: TestDatabase, slug: string, run: () => Promise<T>): Promise<T> {
  const holder = await lingeringHolder(db, `janua:tenant:${slug}`)
  const [result] = await Promise.all([run(), holder.released])
  return result
}
