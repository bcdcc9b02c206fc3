import fs from 'node:fs'
import type pg from 'pg'
import { passwordFromEnvironment } from './pgpass.js'

/**
 * Connection strings are parsed once, here, into their parts. What janua stores and prints is
 * rebuilt from those parts without the password (userinfo, `?password=` or `password=` key), so a
 * secret cannot reach an output by a regex missing its shape; the password is kept apart.
 */
export interface ParsedConnection {
  form: 'url' | 'key-value'
  /** every host of the string, in order (libpq's multi-host form lists more than one) */
  hosts: { host: string; port?: number }[]
  user?: string
  database?: string
  password?: string
  /** other parameters (query parameters of a URL, other keys of key=value), password-like ones removed */
  params: [string, string][]
  /** the string rebuilt from the parts above, without any password: safe to store and print */
  safe: string
  /** passwords and other secrets found in the string (to remember for the last redaction pass) */
  secrets: string[]
}

/** A connection string that cannot be parsed. Its message never quotes the input. */
export class ConnectionStringError extends Error {}

/** Keys whose value is a secret: removed from the rebuilt string (only `password` is used). */
const SECRET_KEYS = new Set(['password', 'sslpassword', 'pass', 'pwd'])
/** libpq keys janua understands in key=value strings (URL query parameters are passed on as they are). */
const KEY_VALUE_KEYS = new Set([
  'host',
  'hostaddr',
  'port',
  'dbname',
  'user',
  'password',
  'application_name',
  'connect_timeout',
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'options',
  'target_session_attrs',
  'sslpassword',
])
const SSL_MODES = new Set(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'])

export const isUrlForm = (text: string) => /^postgres(?:ql)?:\/\//i.test(text)

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part)
  } catch (error) {
    throw new ConnectionStringError(`its ${what} has a malformed %-escape`, { cause: error })
  }
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw new ConnectionStringError('a port is not a number from 1 to 65535')
  return Number(text)
}

function parseHostList(hostText: string, portText?: string): { host: string; port?: number }[] {
  const hosts = hostText.split(',')
  const ports = portText === undefined || portText === '' ? [] : portText.split(',')
  if (ports.length > 1 && ports.length !== hosts.length) throw new ConnectionStringError('it lists a different number of hosts and ports')
  return hosts.map((host, i) => {
    const port = ports.length === 1 ? ports[0] : ports[i]
    return { host, ...(port ? { port: parsePort(port) } : {}) }
  })
}

/**
 * postgres://[user[:password]@]host[:port][,host[:port]...][/database][?key=value&...]
 * Like a WHATWG URL, the authority ends at the first "/", "?" or "#" and the user info at its last
 * "@": a raw "@" in a password belongs to the password, whole.
 */
function parseUrl(text: string): Omit<ParsedConnection, 'safe' | 'secrets'> & { scheme: string } {
  const scheme = /^(postgres(?:ql)?):\/\//i.exec(text)![1]!.toLowerCase()
  const rest = text.slice(scheme.length + 3).replace(/#.*$/s, '')
  const authorityEnd = rest.search(/[/?]/)
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd)
  const tail = authorityEnd === -1 ? '' : rest.slice(authorityEnd)
  const at = authority.lastIndexOf('@')
  const userinfo = at === -1 ? undefined : authority.slice(0, at)
  const hostText = at === -1 ? authority : authority.slice(at + 1)
  let user: string | undefined
  let password: string | undefined
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':')
    user = decode(colon === -1 ? userinfo : userinfo.slice(0, colon), 'user name') || undefined
    if (colon !== -1) password = decode(userinfo.slice(colon + 1), 'password')
  }
  if (/\s/.test(hostText)) throw new ConnectionStringError('its host contains a space')
  const hosts =
    hostText === ''
      ? []
      : hostText.split(',').map((entry) => {
          const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(entry)
          const [host, port] = bracketed ? [bracketed[1]!, bracketed[2]] : [entry.replace(/:[^:]*$/, ''), /:([^:]*)$/.exec(entry)?.[1]]
          if (host === '' && port !== undefined) throw new ConnectionStringError('a host is empty')
          if (!bracketed && !/^[A-Za-z0-9._~%-]*$/.test(host))
            throw new ConnectionStringError('a host has characters no host name has (percent-encode "@", ":", "/", "?" and "#" in a password)')
          return { host: decode(host, 'host'), ...(port ? { port: parsePort(port) } : {}) }
        })
  const queryAt = tail.indexOf('?')
  const path = queryAt === -1 ? tail : tail.slice(0, queryAt)
  const query = queryAt === -1 ? '' : tail.slice(queryAt + 1)
  const database = path.length > 1 ? decode(path.slice(1), 'database name') : undefined
  const params: [string, string][] = []
  for (const pair of query.split('&').filter(Boolean)) {
    const eq = pair.indexOf('=')
    // As in libpq, "+" is a plus sign (not a space, as in a form).
    const key = decode(eq === -1 ? pair : pair.slice(0, eq), 'query')
    const value = decode(eq === -1 ? '' : pair.slice(eq + 1), 'query')
    params.push([key, value])
  }
  return { scheme, form: 'url', hosts, user, password, database, params }
}

/** libpq's key=value form: `host=db port=5432 user=u password='p w' dbname=app`. */
function parseKeyValue(text: string): Omit<ParsedConnection, 'safe' | 'secrets'> {
  const pattern = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|((?:[^\s\\]|\\.)+))/gy
  const values: [string, string][] = []
  let match: RegExpExecArray | null
  let end = 0
  while ((match = pattern.exec(text))) {
    end = pattern.lastIndex
    values.push([match[1]!, (match[2] ?? match[3]!).replace(/\\(.)/g, '$1')])
  }
  if (text.slice(end).trim() !== '') throw new ConnectionStringError("it cannot be read as key=value pairs (quote values with spaces: key='a b')")
  let hostText: string | undefined
  let portText: string | undefined
  let user: string | undefined
  let password: string | undefined
  let database: string | undefined
  const params: [string, string][] = []
  for (const [key, value] of values) {
    if (!KEY_VALUE_KEYS.has(key)) throw new ConnectionStringError(`"${key}" is not a connection parameter janua knows`)
    if (key === 'host' || key === 'hostaddr') hostText = value
    else if (key === 'port') portText = value
    else if (key === 'user') user = value
    else if (key === 'password') password = value
    else if (key === 'dbname') database = value
    else params.push([key, value])
  }
  return {
    form: 'key-value',
    hosts: hostText === undefined ? [] : parseHostList(hostText, portText),
    user,
    password,
    database,
    params: hostText === undefined && portText !== undefined ? [['port', portText], ...params] : params,
  }
}

const quoteValue = (value: string) => (value === '' || /[\s'\\]/.test(value) ? `'${value.replace(/[\\']/g, '\\$&')}'` : value)

function rebuild(parsed: Omit<ParsedConnection, 'safe' | 'secrets'> & { scheme?: string }): string {
  const params = parsed.params.filter(([key]) => !SECRET_KEYS.has(key.toLowerCase()))
  if (parsed.form === 'key-value') {
    const hosts = parsed.hosts.length ? [['host', parsed.hosts.map((h) => h.host).join(',')]] : []
    const ports = parsed.hosts.some((h) => h.port) ? [['port', parsed.hosts.map((h) => h.port ?? '').join(',')]] : []
    const pairs = [
      ...hosts,
      ...ports,
      ...(parsed.user !== undefined ? [['user', parsed.user]] : []),
      ...(parsed.database !== undefined ? [['dbname', parsed.database]] : []),
      ...params,
    ]
    return pairs.map(([k, v]) => `${k}=${quoteValue(String(v))}`).join(' ')
  }
  const enc = (s: string) => encodeURIComponent(s)
  const hosts = parsed.hosts.map((h) => `${h.host.includes(':') ? `[${h.host}]` : enc(h.host)}${h.port ? `:${h.port}` : ''}`).join(',')
  const query = params.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&')
  return `${parsed.scheme ?? 'postgres'}://${parsed.user ? `${enc(parsed.user)}@` : ''}${hosts}${parsed.database !== undefined ? `/${enc(parsed.database)}` : ''}${query ? `?${query}` : ''}`
}

/** Parses a URL or key=value connection string; throws ConnectionStringError (never quoting it). */
export function parseConnectionString(text: string): ParsedConnection {
  const trimmed = text.trim()
  let parsed: Omit<ParsedConnection, 'safe' | 'secrets'> & { scheme?: string }
  if (isUrlForm(trimmed)) parsed = parseUrl(trimmed)
  else if (/^[A-Za-z_]+\s*=/.test(trimmed)) parsed = parseKeyValue(trimmed)
  else throw new ConnectionStringError('it is neither a postgres:// URL nor libpq key=value pairs')
  // A password given as a parameter (?password=, the libpq form) counts as the password too.
  const passwordParam = parsed.params.find(([key]) => key === 'password')
  if (passwordParam && parsed.password === undefined) parsed.password = passwordParam[1]
  const secrets = [parsed.password ?? '', ...parsed.params.filter(([key]) => SECRET_KEYS.has(key.toLowerCase())).map(([, v]) => v)].filter(Boolean)
  if (parsed.password === '') parsed.password = undefined
  return {
    form: parsed.form,
    hosts: parsed.hosts,
    user: parsed.user,
    database: parsed.database,
    password: parsed.password,
    params: parsed.params.filter(([key]) => !SECRET_KEYS.has(key.toLowerCase())),
    safe: rebuild(parsed),
    secrets,
  }
}

/**
 * libpq's sslmode as node-postgres options, with libpq's meaning (require: encrypted, not
 * verified). Mapped here rather than by pg-connection-string, which prints a multi-line warning.
 */
function sslOptions(params: Map<string, string>): pg.ClientConfig['ssl'] {
  // node-postgres' own ?ssl=true verifies the certificate, as verify-full does.
  const mode = params.get('sslmode') ?? (params.get('ssl') === 'true' || params.get('ssl') === '1' ? 'verify-full' : undefined)
  if (mode !== undefined && !SSL_MODES.has(mode)) throw new ConnectionStringError(`sslmode "${mode}" is not one of ${[...SSL_MODES].join(', ')}`)
  const files: Record<string, string> = {}
  for (const [key, option] of [
    ['sslrootcert', 'ca'],
    ['sslcert', 'cert'],
    ['sslkey', 'key'],
  ] as const) {
    const file = params.get(key)
    if (!file) continue
    try {
      files[option] = fs.readFileSync(file, 'utf8')
    } catch (error) {
      throw new ConnectionStringError(`${key} ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  // node-postgres cannot fall back from TLS to plain text, so allow and prefer connect in plain text.
  if (mode === undefined) return Object.keys(files).length ? { ...files } : undefined
  if (mode === 'disable' || mode === 'allow' || mode === 'prefer') return false
  if (mode === 'require') return { ...files, rejectUnauthorized: false }
  if (mode === 'verify-ca') return { ...files, rejectUnauthorized: true, checkServerIdentity: () => undefined }
  return { ...files, rejectUnauthorized: true }
}

/** The node-postgres configuration of one parsed connection (one host: node-postgres connects to one). */
export function toClientConfig(parsed: ParsedConnection): pg.ClientConfig {
  if (parsed.hosts.length > 1) throw new ConnectionStringError(`it lists ${parsed.hosts.length} hosts, and janua connects to one (give the primary's host alone)`)
  const params = new Map(parsed.params)
  const config: pg.ClientConfig = {}
  const host = parsed.hosts[0]?.host || params.get('host') || undefined
  const port = parsed.hosts[0]?.port ?? (params.get('port') ? parsePort(params.get('port')!) : undefined)
  if (host) config.host = host
  if (port) config.port = port
  if (parsed.user ?? params.get('user')) config.user = parsed.user ?? params.get('user')
  if (parsed.database ?? params.get('dbname')) config.database = parsed.database ?? params.get('dbname')
  if (parsed.password !== undefined) config.password = parsed.password
  // Asked for only when the server wants a password; node-postgres passes the final host, port, database and user.
  else config.password = ((target: Parameters<typeof passwordFromEnvironment>[0]) => passwordFromEnvironment(target)) as unknown as () => string
  if (params.has('application_name')) config.application_name = params.get('application_name')
  if (params.has('options')) config.options = params.get('options')
  if (params.has('connect_timeout')) {
    const seconds = Number(params.get('connect_timeout'))
    if (!Number.isFinite(seconds) || seconds < 0) throw new ConnectionStringError('connect_timeout is not a number of seconds')
    config.connectionTimeoutMillis = seconds * 1000
  }
  const ssl = sslOptions(params)
  if (ssl !== undefined) config.ssl = ssl
  return config
}
