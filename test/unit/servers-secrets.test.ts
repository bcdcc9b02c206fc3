import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { passwordFromEnvironment } from '../../src/db/pgpass.js'
import { parseConnection } from '../../src/db/connection.js'
import { parseConnectionString, toClientConfig } from '../../src/db/connection-string.js'
import { redactAll, rememberSecret } from '../../src/db/redact.js'
import { openServerPassword, sealServerPassword } from '../../src/core/server-secrets.js'
import { decideServerRemoval, registeredAs, type ServerRemovalFacts } from '../../src/core/servers.js'
import { JanuaError } from '../../src/core/errors.js'

const codeOf = (fn: () => unknown) => {
  try {
    fn()
  } catch (error) {
    return error instanceof JanuaError ? error.exitCode : -1
  }
  return 0
}
const messageOf = (fn: () => unknown) => {
  try {
    fn()
  } catch (error) {
    return (error as Error).message + ' ' + ((error as JanuaError).hint ?? '')
  }
  return ''
}

describe('connection strings: parsed once, rebuilt without the password', () => {
  it.each([
    ['postgres://u@host:5432/db?password=QPSECRET', 'QPSECRET', 'postgres://u@host:5432/db'],
    ['postgres://u:Rw@tSECRET@host/db', 'Rw@tSECRET', 'postgres://u@host/db'],
    ['postgresql://u:s3cr%40t%2Fx@h:5433/db?sslmode=require&application_name=a%20b', 's3cr@t/x', 'postgresql://u@h:5433/db?sslmode=require&application_name=a%20b'],
    ["host=h port=5432 user=u password='se cret' dbname=db", 'se cret', 'host=h port=5432 user=u dbname=db'],
    ["host=h user=u password=it\\'sSECRET dbname=d sslmode=disable", "it'sSECRET", 'host=h user=u dbname=d sslmode=disable'],
    ['postgres://u:MULTISECRET@h1:5432,h2:5433/db?target_session_attrs=read-write', 'MULTISECRET', 'postgres://u@h1:5432,h2:5433/db?target_session_attrs=read-write'],
    ['postgres://u@[::1]:5432/db?sslpassword=KEYSECRET', undefined, 'postgres://u@[::1]:5432/db'],
  ])('%s', (text, password, safe) => {
    const parsed = parseConnectionString(text)
    expect(parsed.password).toBe(password)
    expect(parsed.safe).toBe(safe)
    for (const secret of parsed.secrets) expect(parsed.safe).not.toContain(secret)
  })

  it('a rebuilt string parses to the same connection, without the password', () => {
    for (const text of ['postgres://u:pw123@h:5432/db?sslmode=require', "host=h port=5 user=u password=x1y2 dbname='my db'"]) {
      const parsed = parseConnectionString(text)
      const again = parseConnectionString(parsed.safe)
      expect({ ...again, safe: undefined, secrets: undefined }).toEqual({ ...parsed, password: undefined, safe: undefined, secrets: undefined })
    }
  })

  it('the raw-@ password is whole in the config, and its tail is nowhere in what is shown', () => {
    const { config, parsed } = parseConnection('postgres://u:Rw@tSECRET@127.0.0.1:5432/db')
    expect(config).toMatchObject({ user: 'u', password: 'Rw@tSECRET', host: '127.0.0.1', port: 5432, database: 'db' })
    expect(parsed.safe).not.toContain('tSECRET')
    expect(redactAll('audit: postgres://u:Rw@tSECRET@127.0.0.1:5432/db')).not.toContain('tSECRET')
  })

  it('a key=value string keeps no literal mask that could win over the stored password', () => {
    const { parsed } = parseConnection('host=h user=u password=KVSECRET dbname=d')
    expect(parsed.safe).toBe('host=h user=u dbname=d')
    expect(parseConnectionString(parsed.safe).password).toBeUndefined()
    expect(typeof toClientConfig(parseConnectionString(parsed.safe)).password).toBe('function')
  })

  it('sslmode follows libpq (require: encrypted, not verified) and prints no warning', () => {
    const warnings: string[] = []
    const listener = (w: Error) => warnings.push(w.message)
    process.on('warning', listener)
    try {
      expect(parseConnection('postgres://u@h/db?sslmode=require').config.ssl).toEqual({ rejectUnauthorized: false })
      expect(parseConnection('postgres://u@h/db?sslmode=disable').config.ssl).toBe(false)
      expect(parseConnection('postgres://u@h/db?sslmode=verify-full').config.ssl).toEqual({ rejectUnauthorized: true })
      expect(parseConnection('postgres://u@h/db?ssl=true').config.ssl).toEqual({ rejectUnauthorized: true })
      expect(parseConnection('postgres://u:a+b@h/db?password=c+d').config.password).toBe('a+b')
    } finally {
      process.off('warning', listener)
    }
    expect(warnings).toEqual([])
  })

  it.each([
    ['postgres://', /no host/],
    ['postgres://u:BADSECRET@h:99999/db', /port/],
    ['postgres://u:MHSECRET@h1,h2/db', /2 hosts/],
    ['host=h pasword=TYPOSECRET', /"pasword" is not a connection parameter/],
    ['mysql://u:OTHERSECRET@h/db', /neither/],
    ['postgres://u@h/db?sslmode=sometimes', /sslmode/],
  ])('bad input %s: exit 2, one line, never the string', (text, reason) => {
    expect(codeOf(() => parseConnection(text))).toBe(2)
    const message = messageOf(() => parseConnection(text))
    expect(message).toMatch(reason)
    expect(message).not.toMatch(/SECRET/)
    expect(message).not.toContain('\n')
  })
})

describe('redactAll: known secrets first, then shapes', () => {
  it('replaces a known secret before a pattern can cut it apart', () => {
    rememberSecret('Ab@cdSECRET')
    expect(redactAll('postgres://u:Ab@cdSECRET@h/db')).toBe('postgres://u:***@h/db')
  })

  it('a pattern that would cut a known secret apart comes second', () => {
    rememberSecret('ab;cdSECRET')
    expect(redactAll('host=h password=ab;cdSECRET dbname=d')).toBe('host=h password=*** dbname=d')
  })

  it('replaces the percent-encoded and JSON-escaped forms too', () => {
    rememberSecret('q"u/o@te')
    expect(redactAll('postgres://u:q%22u%2Fo%40te@h/db')).not.toContain('q%22u')
    expect(redactAll(JSON.stringify({ p: 'q"u/o@te' }))).toBe('{"p":"***"}')
  })

  it('a raw "@" password of an unparsed URL is redacted up to its last "@"', () => {
    expect(redactAll('postgres://u:x@yTAIL@h/db')).toBe('postgres://u:***@h/db')
  })
})

describe('inline server passwords: sealed under JANUA_SECRET_KEY or refused', () => {
  const saved = process.env.JANUA_SECRET_KEY
  afterEach(() => {
    if (saved === undefined) delete process.env.JANUA_SECRET_KEY
    else process.env.JANUA_SECRET_KEY = saved
  })

  it('round-trips, bound to the server name, never holding the password in clear', () => {
    process.env.JANUA_SECRET_KEY = Buffer.alloc(32, 7).toString('base64')
    const sealed = sealServerPassword('eu1', 'SEALSECRET')
    expect(sealed).not.toContain('SEALSECRET')
    expect(openServerPassword('eu1', sealed)).toBe('SEALSECRET')
    expect(codeOf(() => openServerPassword('eu2', sealed))).toBe(2)
    process.env.JANUA_SECRET_KEY = Buffer.alloc(32, 8).toString('hex')
    expect(codeOf(() => openServerPassword('eu1', sealed))).toBe(2)
  })

  it('without a key, refuses with exit 2 pointing to --url-env and pgpass', () => {
    delete process.env.JANUA_SECRET_KEY
    expect(codeOf(() => sealServerPassword('eu1', 'x'))).toBe(2)
    expect(messageOf(() => sealServerPassword('eu1', 'x'))).toMatch(/--url-env.*pgpass/)
  })

  it('a key of the wrong size is bad input', () => {
    process.env.JANUA_SECRET_KEY = 'short'
    expect(codeOf(() => sealServerPassword('eu1', 'x'))).toBe(2)
  })
})

describe('servers are identified by cluster', () => {
  const id = (database: string, systemIdentifier: string | null = '7300', port = 5432) => ({ systemIdentifier, port, database, versionNum: 170000 })

  it('the same cluster, port and database is the same registration; another database is not', () => {
    const known = [
      { name: 'primary', identity: id('app') },
      { name: 'eu1', identity: id('postgres', '9100') },
    ]
    expect(registeredAs(id('app'), known)?.name).toBe('primary')
    expect(registeredAs(id('postgres', '9100'), known)?.name).toBe('eu1')
    expect(registeredAs(id('other'), known)).toBeUndefined()
    expect(registeredAs(id('app', '7300', 5433), known)).toBeUndefined()
    expect(registeredAs(id('app', null), [{ name: 'x', identity: id('app', null) }])).toBeUndefined()
  })

  const facts = (over: Partial<ServerRemovalFacts> = {}): ServerRemovalFacts => ({
    name: 'two',
    connection: '$TWO_URL',
    tenants: [],
    moves: [],
    leftovers: [],
    sameCluster: [],
    januaDatabases: [
      { database: 'janua_x__shared', kind: 'shared', placementsOf: [] },
      { database: 'janua_x__template', kind: 'template', placementsOf: [] },
    ],
    found: [
      { database: 'janua_x__shared', tenantData: [] },
      { database: 'janua_x__template', tenantData: [] },
    ],
    ...over,
  })

  it('removal drops janua databases of a cluster no one else registered', () => {
    const { refusals, plan } = decideServerRemoval(facts())
    expect(refusals).toEqual([])
    expect(plan.drop).toEqual(['janua_x__shared', 'janua_x__template'])
  })

  it('removal refuses for tenants, moves, leftovers, tenant data and placements of another name', () => {
    expect(decideServerRemoval(facts({ tenants: ['acme'] })).refusals[0]).toMatch(/acme/)
    expect(decideServerRemoval(facts({ moves: [{ tenant: 'acme', operation: '7', step: 'fenced' }] })).refusals[0]).toMatch(/--resume or --abort/)
    expect(decideServerRemoval(facts({ leftovers: [{ tenant: 'acme', database: 'd', schema: 's', what: 'database' }] })).refusals[0]).toMatch(/leftover/)
    expect(decideServerRemoval(facts({ found: [{ database: 'janua_x__shared', tenantData: ['schema tenant_a'] }] })).refusals[0]).toMatch(/tenant_a/)
    const shared = facts({ sameCluster: ['three'], januaDatabases: [{ database: 'janua_x__shared', kind: 'shared', placementsOf: ['three'] }] })
    expect(decideServerRemoval(shared).refusals[0]).toMatch(/placements of three/)
  })

  it('keeps the databases another name of the same cluster uses (the primary only the template)', () => {
    const { plan } = decideServerRemoval(facts({ sameCluster: ['primary'] }))
    expect(plan.drop).toEqual(['janua_x__shared'])
    expect(plan.keep.map((k) => k.database)).toEqual(['janua_x__template'])
  })

  it('a server that cannot be reached: nothing dropped, each database reported with the command that finishes it', () => {
    const { plan } = decideServerRemoval(facts({ found: null, sameCluster: null, unreachable: 'refused' }))
    expect(plan.drop).toEqual([])
    expect(plan.notRemoved.map((n) => n.database)).toEqual(['janua_x__shared', 'janua_x__template'])
    expect(plan.notRemoved[0]!.finish).toContain(`psql "$TWO_URL" -c 'DROP DATABASE IF EXISTS "janua_x__shared" WITH (FORCE)'`)
  })
})

describe('property: no generated password survives parsing, rebuilding or redaction', () => {
  // A seeded generator (no dependency): the seed is printed with any failure.
  const seed = Number(process.env.JANUA_PROPERTY_SEED ?? 20261130)
  let state = seed
  // mulberry32
  const next = () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('')
  const special = '@:/?#% \'"\\&;='
  const password = () => {
    const length = 6 + Math.floor(next() * 14)
    let out = 'Z'
    for (let i = 1; i < length; i++) out += next() < 0.4 ? special[Math.floor(next() * special.length)] : printable[Math.floor(next() * printable.length)]
    return out
  }

  it('URL (encoded), ?password=, key=value: the password is whole in the config and absent from the rebuilt string', () => {
    for (let run = 0; run < 400; run++) {
      const pw = password()
      const forms = [
        `postgres://u:${encodeURIComponent(pw)}@127.0.0.1:5432/db`,
        `postgres://u@127.0.0.1:5432/db?sslmode=disable&password=${encodeURIComponent(pw)}`,
        `host=127.0.0.1 port=5432 user=u password='${pw.replace(/[\\']/g, '\\$&')}' dbname=db`,
      ]
      for (const text of forms) {
        const { config, parsed } = parseConnection(text)
        expect(config.password, `seed ${seed}, ${JSON.stringify(pw)} in ${text}`).toBe(pw)
        expect(parsed.safe.includes(pw) || parsed.safe.includes(encodeURIComponent(pw)), `seed ${seed}, ${JSON.stringify(pw)}`).toBe(false)
        expect(redactAll(`${text} ${JSON.stringify({ text })}`), `seed ${seed}, ${JSON.stringify(pw)}`).not.toContain(pw)
      }
    }
  })

  it('a raw (unencoded) password, parsed or not, never survives the redaction of the text that held it', () => {
    for (let run = 0; run < 400; run++) {
      const pw = password()
      const text = `postgres://u:${pw}@127.0.0.1:5432/db`
      try {
        parseConnection(text)
      } catch (error) {
        expect(redactAll((error as Error).message), `seed ${seed}`).not.toContain(pw)
      }
      expect(redactAll(`audit: ${text}`), `seed ${seed}, ${JSON.stringify(pw)}`).not.toContain(pw)
    }
  })
})

describe('a password from PGPASSWORD or the password file, read by janua (no node-postgres deprecation warning)', () => {
  const saved = { PGPASSWORD: process.env.PGPASSWORD, PGPASSFILE: process.env.PGPASSFILE }
  afterEach(() => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  })
  const target = { host: 'db.internal', port: 5433, database: 'app', user: 'janua' }

  it('matches host, port, database and user, with wildcards and escapes', () => {
    delete process.env.PGPASSWORD
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-pgpass-'))
    const file = path.join(dir, 'pgpass')
    fs.writeFileSync(file, '# comment\nother:5433:app:janua:wrong\ndb.internal:*:*:janua:PgPass\\:SECRET\n', { mode: 0o600 })
    process.env.PGPASSFILE = file
    try {
      expect(passwordFromEnvironment(target)).toBe('PgPass:SECRET')
      expect(passwordFromEnvironment({ ...target, user: 'nobody' })).toBeUndefined()
      expect(redactAll('failed with PgPass:SECRET')).not.toContain('SECRET')
      fs.chmodSync(file, 0o644)
      expect(codeOf(() => passwordFromEnvironment(target))).toBe(2)
      process.env.PGPASSFILE = path.join(dir, 'missing')
      expect(passwordFromEnvironment(target)).toBeUndefined()
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('PGPASSWORD wins, as in libpq', () => {
    process.env.PGPASSWORD = 'EnvSECRET'
    expect(passwordFromEnvironment(target)).toBe('EnvSECRET')
  })
})
