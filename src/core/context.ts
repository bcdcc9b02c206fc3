import os from 'node:os'
import pg from 'pg'
import { Connections, endQuietly, parseConnection, parseDatabaseUrl, withClient, type ClientConfig } from '../db/connection.js'
import { translateError } from '../db/errors.js'
import { DEFAULT_LOCK_TIMEOUT_MS, type LockWait } from '../db/locks.js'
import { ident } from '../sql/ident.js'
import { ensureEmbedded } from './embedded.js'
import { describeSource, resolveSettings, type Settings, type SettingsInput } from './config.js'
import { loadTemplates, type TemplateSet } from './templates.js'
import { ExitCode, JanuaError, NOT_FOUND } from './errors.js'
import { openServerPassword } from './server-secrets.js'

export const EMBEDDED_DATABASE = 'janua'

/**
 * Everything a core function needs: settings, connections, the template set. Created once per
 * command, closed by the command layer.
 */
export class Janua {
  private templateSet?: TemplateSet
  /** How long single-tenant operations wait for a tenant, placement or template lock, and whom they tell (the command layer). */
  lockWait: LockWait = { lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS }

  private constructor(
    readonly settings: Settings,
    readonly conn: Connections,
    readonly primaryUrl: string,
  ) {}

  static async open(input: SettingsInput & { onNotice?: (line: string) => void } = {}): Promise<Janua> {
    const settings = resolveSettings(input)
    let url = settings.databaseUrl
    if (!url) {
      const embedded = await ensureEmbedded(settings.embeddedDir)
      // Said once, when this run started it: where it lives, its port, how to stop it.
      if (embedded.started) input.onNotice?.(`started the embedded PostgreSQL in ${settings.embeddedDir} on port ${embedded.state.port}; stop it with \`janua dev stop\``)
      url = embedded.url.replace(/\/postgres$/, `/${EMBEDDED_DATABASE}`)
      await ensureDatabase(parseDatabaseUrl(embedded.url), EMBEDDED_DATABASE)
    }
    const { config: primary, parsed } = parseConnection(url)
    const janua: Janua = new Janua(settings, new Connections(primary, (name: string) => janua.serverConfig(name)), url)
    try {
      await withClient(janua.conn.primaryPool(), (c) => c.query('select 1'))
    } catch (error) {
      await janua.close()
      // The pool may have explained the error already: the URL and where it came from are added either way.
      const failure = translateError(error)
      const where = `connecting to ${parsed.safe} (from ${describeSource(settings, settings.urlSource)})`
      throw new JanuaError(`${where}: ${failure.message}`, failure.exitCode, failure.hint, failure.code, failure.details, { cause: error })
    }
    return janua
  }

  /** The primary's URL as it may be shown and stored: rebuilt without its password. */
  get primarySafeUrl(): string {
    return parseConnection(this.primaryUrl).parsed.safe
  }

  get templates(): TemplateSet {
    this.templateSet ??= loadTemplates(this.settings.templatesDir)
    return this.templateSet
  }

  get db() {
    return this.conn.controlPlane()
  }

  get appRole(): string {
    return this.settings.appRole
  }

  get actor(): string {
    try {
      return `${os.userInfo().username}@${os.hostname()}`
    } catch {
      // A uid without a passwd entry (containers): the uid names the actor as well, for the audit row.
      return `uid ${process.getuid?.() ?? '?'}@${os.hostname()}`
    }
  }

  async serverConfig(name: string): Promise<ClientConfig> {
    if (name === 'primary') return this.conn.primary
    const row = await this.db.selectFrom('janua.servers').selectAll().where('name', '=', name).executeTakeFirst()
    if (!row) throw new JanuaError(`unknown server "${name}"`, ExitCode.usage, 'list servers with `janua server list`, add one with `janua server add`', NOT_FOUND)
    const url = row.url_env ? process.env[row.url_env] : row.url
    if (!url) throw new JanuaError(`server "${name}" is configured from $${row.url_env}, which is not set`, 5, `export ${row.url_env}=postgres://...`)
    const config = parseDatabaseUrl(url)
    // The password janua keeps apart wins: the stored URL never holds one (older rows may hold a mask).
    if (row.password) config.password = openServerPassword(name, row.password)
    return config
  }

  async close(): Promise<void> {
    await this.conn.close()
  }
}

/** CREATE DATABASE if missing (used for the embedded server's own `janua` database). */
async function ensureDatabase(server: ClientConfig, database: string): Promise<void> {
  const client = new pg.Client({ ...server, database: 'postgres' })
  try {
    await client.connect()
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database])
    if (!rowCount) {
      await client.query(`create database ${ident(database)}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error // created by a concurrent command
      })
    }
  } catch (error) {
    throw translateError(error, 'preparing the embedded PostgreSQL')
  } finally {
    await endQuietly(client)
  }
}
