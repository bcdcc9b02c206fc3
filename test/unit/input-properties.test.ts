import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Flags, Parser } from '@oclif/core'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseErrorLine } from '../../src/cli/parse-error.js'
import { checkConfig, resolveSettings } from '../../src/core/config.js'
import { JanuaError } from '../../src/core/errors.js'
import { decodeTemplate, loadTemplates, parseTemplateFile } from '../../src/core/templates.js'
import { MAX_VERSION, validateEmail, validateTenantFields, validateTenantName } from '../../src/core/validate.js'
import { quoted, unsafeCharacterOf, validateServerName, validateSlug } from '../../src/sql/ident.js'
import { januaErrorOf } from '../helpers/foundation.js'
import { controlCharacter, escapeSequence, propertyRuns, validSlug, withControl } from '../helpers/properties.js'

/**
 * Property-based tests over the validators at the edge: for every generated bad input the
 * validator throws a JanuaError with exit 2 and a one-line message; for arbitrary input it either
 * accepts something safe or refuses with exit 2, never anything else.
 */
const usage = (fn: () => unknown) => {
  const error = januaErrorOf(fn)
  expect(error.exitCode).toBe(2)
  expect(error.code).toBe('invalid_input')
  expect(error.message).not.toMatch(/[\n\r]/)
  // The bad input is echoed escaped: never a raw control character in what janua prints.
  expect(unsafeCharacterOf(error.message)).toBeUndefined()
  expect(error.hint).toBeTruthy()
  return error
}
/** accepted (returning what fn returns) or refused with exit 2: nothing else */
const acceptedOrUsage = <T>(fn: () => T): T | undefined => {
  try {
    return fn()
  } catch (error) {
    expect(error).toBeInstanceOf(JanuaError)
    expect((error as JanuaError).exitCode).toBe(2)
    return undefined
  }
}
/** any string: printable, unicode, controls, the lot */
const anyText = fc.string({
  unit: fc.oneof(
    fc.constant('-'),
    fc.constant('_'),
    fc.constantFrom(...'az09AZ'),
    controlCharacter,
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 70,
})

describe('tenant slugs', () => {
  it('every generated valid slug is accepted as is', () => {
    fc.assert(
      fc.property(validSlug, (slug) => void expect(validateSlug(slug)).toBe(slug)),
      propertyRuns(300),
    )
  })

  it('a valid slug with one bad change is refused with exit 2', () => {
    const broken = fc.oneof(
      withControl(validSlug),
      validSlug.map((s) => s.toUpperCase()).filter((s) => /[A-Z]/.test(s)),
      fc.tuple(validSlug, fc.constantFrom(' ', '_', '.', '"', "'", ';', '/', '\\', 'é', 'ß', '\u0000', '$', '*')).map(([s, c]) => `${s}${c}x`),
      fc.tuple(fc.integer({ min: 0, max: 9 }), validSlug).map(([d, s]) => `${d}${s}`),
      validSlug.map((s) => `${s}-`),
      validSlug.map((s) => `${s}--x`),
      validSlug.map((s) => `-${s}`),
      validSlug.map((s) => `pg${s}`),
      validSlug.map((s) => `${s}${'x'.repeat(41)}`),
      fc.constantFrom('', 'public', 'janua', 'shared', 'template', 'postgres', 'information-schema'),
    )
    fc.assert(
      fc.property(broken, (slug) => void usage(() => validateSlug(slug))),
      propertyRuns(400),
    )
  })

  it('any string is either a safe slug or refused with exit 2', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const slug = acceptedOrUsage(() => validateSlug(text))
        if (slug !== undefined) expect(slug).toMatch(/^[a-z][a-z0-9-]{0,39}$/)
      }),
      propertyRuns(500),
    )
  })
})

describe('server names', () => {
  const validServer = fc.stringMatching(/^[a-z][a-z0-9_-]{0,30}$/)
  it('valid names are accepted; a valid name with one bad change is refused with exit 2', () => {
    fc.assert(
      fc.property(validServer, (name) => void expect(validateServerName(name)).toBe(name)),
      propertyRuns(200),
    )
    const broken = fc.oneof(
      withControl(validServer),
      validServer.map((s) => `${s}${'x'.repeat(31)}`),
      fc.tuple(validServer, fc.constantFrom('A', ' ', '.', '"', ':', '/', '@', 'é')).map(([s, c]) => `${s}${c}`),
      validServer.map((s) => `9${s}`),
      fc.constant(''),
    )
    fc.assert(
      fc.property(broken, (name) => void usage(() => validateServerName(name))),
      propertyRuns(300),
    )
  })

  it('any string is either a safe server name or refused with exit 2', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const name = acceptedOrUsage(() => validateServerName(text))
        if (name !== undefined) expect(name).toMatch(/^[a-z][a-z0-9_-]{0,30}$/)
      }),
      propertyRuns(500),
    )
  })
})

describe('tenant names and emails', () => {
  const plainName = fc.string({ unit: fc.constantFrom(..."abcXYZ 0123&.,-'é漢😀"), minLength: 1, maxLength: 60 }).filter((s) => s.trim() !== '')

  it('a name or email with a control character or terminal escape sequence is refused with exit 2, naming the character', () => {
    fc.assert(
      fc.property(withControl(plainName), (name) => {
        const error = usage(() => validateTenantName(name))
        expect(error.message).toContain(unsafeCharacterOf(name)!)
        usage(() => validateTenantFields({ slug: 'acme', name }))
      }),
      propertyRuns(300),
    )
    const email = fc.emailAddress()
    fc.assert(
      fc.property(withControl(email), (address) => void usage(() => validateEmail(address))),
      propertyRuns(200),
    )
    fc.assert(
      fc.property(withControl(plainName), (text) => {
        usage(() => validateTenantFields({ slug: 'acme', domain: text }))
        usage(() => validateTenantFields({ slug: 'acme', plan: text }))
      }),
      propertyRuns(100),
    )
  })

  it('plain names and addresses are accepted (trimmed); any string is accepted without controls or refused with exit 2', () => {
    fc.assert(
      fc.property(plainName, (name) => void expect(validateTenantName(name)).toBe(name.trim())),
      propertyRuns(200),
    )
    fc.assert(
      fc.property(
        fc.emailAddress().filter((e) => e.length <= 254 && /\.[^.]+$/.test(e.split('@')[1]!)),
        (e) => void expect(validateEmail(e)).toBe(e),
      ),
      propertyRuns(200),
    )
    fc.assert(
      fc.property(anyText, (text) => {
        const name = acceptedOrUsage(() => validateTenantName(text))
        if (name !== undefined) expect(unsafeCharacterOf(name)).toBeUndefined()
      }),
      propertyRuns(500),
    )
  })

  it('an address without one "@" and a dotted domain is refused with exit 2', () => {
    const bad = fc.oneof(
      plainName.filter((s) => !s.includes('@')),
      fc.emailAddress().map((e) => e.replace('@', '@@')),
      fc.emailAddress().map((e) => e.split('@')[0]!),
      fc.emailAddress().map((e) => `${e.split('@')[0]} x@${e.split('@')[1]}`),
    )
    fc.assert(
      fc.property(bad, (address) => void usage(() => validateEmail(address))),
      propertyRuns(200),
    )
  })
})

describe('template file names and contents', () => {
  const validName = fc.tuple(fc.integer({ min: 1, max: MAX_VERSION }), fc.stringMatching(/^[a-z0-9_]{1,20}$/)).map(([v, n]) => `${String(v).padStart(4, '0')}_${n}.sql`)

  it('valid names give their version; names that break the pattern or the version range are refused with exit 2', () => {
    fc.assert(
      fc.property(validName, (name) => void expect(parseTemplateFile(name, name, '').version).toBe(Number(name.split('_')[0]))),
      propertyRuns(200),
    )
    const broken = fc.oneof(
      withControl(validName),
      validName.map((n) => n.toUpperCase()),
      validName.map((n) => n.replace('_', '-')),
      validName.map((n) => n.replace('.sql', '.SQL')),
      validName.map((n) => `${n}.bak`),
      validName.map((n) => n.slice(1)).filter((n) => /^\d{0,3}_/.test(n)),
      fc.tuple(fc.bigInt({ min: BigInt(MAX_VERSION) + 1n, max: 10n ** 30n }), fc.stringMatching(/^[a-z]{1,8}$/)).map(([v, n]) => `${v}_${n}.sql`),
      fc.stringMatching(/^[a-z]{1,8}$/).map((n) => `0000_${n}.sql`),
    )
    fc.assert(
      fc.property(broken, (name) => {
        const error = usage(() => parseTemplateFile(name, `/t/${name}`, 'select 1;'))
        expect(error.message).toContain(quoted(name))
      }),
      propertyRuns(400),
    )
  })

  it('any file name is either a template with a version in 1..2^31-1 or refused with exit 2', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyText,
          anyText.map((t) => `${t}.sql`),
          fc.stringMatching(/^\d{1,14}_[a-z_]{1,5}\.sql$/),
        ),
        (name) => {
          const file = acceptedOrUsage(() => parseTemplateFile(name, name, ''))
          if (file) expect(file.version >= 1 && file.version <= MAX_VERSION).toBe(true)
        },
      ),
      propertyRuns(500),
    )
  })

  it('bytes that are not UTF-8 are refused with exit 2 naming the file; UTF-8 text comes back unchanged', () => {
    const notUtf8 = fc.uint8Array({ minLength: 1, maxLength: 64 }).filter((b) => !Buffer.from(Buffer.from(b).toString('utf8'), 'utf8').equals(Buffer.from(b)))
    fc.assert(
      fc.property(notUtf8, (bytes) => {
        const error = usage(() => decodeTemplate('/t/0005_latin.sql', bytes))
        expect(error.message).toContain('/t/0005_latin.sql')
      }),
      propertyRuns(300),
    )
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 50 }).filter((s) => !s.includes('\0')),
        (text) => {
          expect(decodeTemplate('f', Buffer.from(text, 'utf8'))).toBe(text)
        },
      ),
      propertyRuns(300),
    )
  })
})

describe('flag values (oclif parser, the reason kept on one line)', () => {
  const flags = { concurrency: Flags.integer({ min: 1, max: 64 }), to: Flags.integer({ min: 0 }) }
  const badConcurrency = fc.oneof(
    fc.integer({ max: 0 }).map(String),
    fc.integer({ min: 65 }).map(String),
    fc
      .double({ noNaN: true })
      .filter((d) => !Number.isInteger(d))
      .map(String),
    fc.stringMatching(/^[a-z%$ .,+-]{1,8}$/).filter((s) => !/^-?\d+$/.test(s.trim())),
    withControl(fc.constantFrom('1', '8', 'abc')),
  )

  it('every bad --concurrency is refused with its reason on one line', async () => {
    await fc.assert(
      fc.asyncProperty(badConcurrency, async (value) => {
        const error = await Parser.parse(['--concurrency', value], { flags }).then(
          () => undefined,
          (e: Error) => e,
        )
        expect(error, `--concurrency ${value} was accepted`).toBeInstanceOf(Error)
        const line = parseErrorLine(error!.message)
        expect(line).not.toMatch(/[\n\r\t]/)
        expect(unsafeCharacterOf(line)).toBeUndefined()
        expect(line).toMatch(/^Parsing --concurrency: Expected an integer/)
        expect(line).not.toContain('See more help')
      }),
      propertyRuns(200),
    )
  })

  it('values in range parse', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 64 }), async (n) => {
        expect((await Parser.parse(['--concurrency', String(n)], { flags })).flags.concurrency).toBe(n)
      }),
      propertyRuns(64),
    )
  })
})

describe('janua.config.json values', () => {
  const keys = fc.constantFrom('databaseUrl', 'templates', 'appRole')
  const notString = fc.anything().filter((v) => typeof v !== 'string')

  it('a known key with a value that is not a string is refused with exit 2, naming the key', () => {
    fc.assert(
      fc.property(keys, notString, (key, value) => {
        const error = usage(() => checkConfig('/x/janua.config.json', { [key]: value }))
        expect(error.message).toContain(`"${key}"`)
      }),
      propertyRuns(300),
    )
  })

  it('an unknown key is refused with exit 2, naming it', () => {
    const unknownKey = fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !['databaseUrl', 'templates', 'appRole', '$schema', '__proto__'].includes(k))
    fc.assert(
      fc.property(unknownKey, fc.anything(), (key, value) => {
        const error = usage(() => checkConfig('/x/janua.config.json', { [key]: value }))
        expect(error.message).toContain(quoted(key))
      }),
      propertyRuns(200),
    )
  })

  describe('read from the file', () => {
    let dir: string
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-config-props-'))
    })
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

    it('"appRole": 5 (and other wrong types) exit 2 with one line naming the key, not "v.trim is not a function"', () => {
      fc.assert(
        fc.property(
          keys,
          notString.filter((v) => v !== undefined),
          (key, value) => {
            fs.writeFileSync(path.join(dir, 'janua.config.json'), JSON.stringify({ [key]: value }))
            const error = usage(() => resolveSettings({ cwd: dir, env: {} }))
            expect(error.message).toContain(`"${key}" must be a string`)
          },
        ),
        propertyRuns(100),
      )
    })
  })
})

describe('template folders (regressions)', () => {
  let dir: string
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-templates-props-'))
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
  const folder = (name: string) => {
    const d = path.join(dir, name)
    fs.mkdirSync(d)
    fs.writeFileSync(path.join(d, '0001_a.sql'), 'create table a (id int);\n')
    return d
  }

  it('a symlinked template file is followed, not skipped', () => {
    const d = folder('linked')
    fs.writeFileSync(path.join(dir, 'shared.sql'), 'create table b (id int);\n')
    fs.symlinkSync(path.join(dir, 'shared.sql'), path.join(d, '0002_b.sql'))
    expect(loadTemplates(d).files.map((f) => [f.name, f.sql])).toEqual([
      ['0001_a.sql', 'create table a (id int);\n'],
      ['0002_b.sql', 'create table b (id int);\n'],
    ])
  })

  it('a dangling symlink, a folder named *.sql, or a seed entry that is a file are refused with exit 2', () => {
    const dangling = folder('dangling')
    fs.symlinkSync(path.join(dir, 'nowhere.sql'), path.join(dangling, '0002_b.sql'))
    expect(usage(() => loadTemplates(dangling)).message).toContain('0002_b.sql')
    const dirEntry = folder('dir-entry')
    fs.mkdirSync(path.join(dirEntry, '0002_b.sql'))
    expect(usage(() => loadTemplates(dirEntry)).message).toContain('0002_b.sql')
    const seedFile = folder('seed-file')
    fs.writeFileSync(path.join(seedFile, 'seed'), '')
    expect(usage(() => loadTemplates(seedFile)).message).toContain('seed')
  })

  it('a Latin-1 template is refused naming the file; a version above 2^31-1 is refused at load', () => {
    const latin = folder('latin')
    fs.writeFileSync(path.join(latin, '0002_b.sql'), Buffer.from('insert into a values (1); -- caf\u00e9\n', 'latin1'))
    expect(usage(() => loadTemplates(latin)).message).toContain(path.join(latin, '0002_b.sql'))
    const big = folder('big')
    fs.writeFileSync(path.join(big, '2147483648_b.sql'), 'select 1;\n')
    expect(usage(() => loadTemplates(big)).message).toContain('2147483648')
    const max = folder('max')
    fs.writeFileSync(path.join(max, '2147483647_b.sql'), 'select 1;\n')
    expect(loadTemplates(max).latest).toBe(MAX_VERSION)
  })
})

it('escape sequences used by the properties are all caught by the text validator', () => {
  fc.assert(
    fc.property(escapeSequence, (s) => void expect(unsafeCharacterOf(s)).toBeDefined()),
    propertyRuns(50),
  )
})
