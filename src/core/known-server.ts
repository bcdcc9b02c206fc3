import { sql } from 'kysely'
import { validateServerName } from '../sql/ident.js'
import type { Janua } from './context.js'
import { usageError } from './errors.js'

/**
 * A --server filter of a fleet command must name a server janua knows ("primary" or a row of
 * janua.servers): a typo would otherwise match zero placements and exit 0, passing a CI gate.
 * Works before the control plane exists (then only "primary" is known). Returns the name.
 */
export async function requireKnownServer(janua: Janua, server: string): Promise<string> {
  validateServerName(server)
  if (server === 'primary') return server
  const { rows } = await sql<{ present: boolean }>`select to_regclass('janua.servers') is not null as present`.execute(janua.db)
  const registered = rows[0]?.present && (await janua.db.selectFrom('janua.servers').select('name').where('name', '=', server).executeTakeFirst())
  if (!registered) throw usageError(`unknown server "${server}"`, 'list servers with `janua server list` ("primary" is the database janua was started with)')
  return server
}
