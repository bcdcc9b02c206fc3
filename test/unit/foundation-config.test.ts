import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { defaultTemplatesDir, resolveSettings } from '../../src/core/config.js'
import { JanuaError } from '../../src/core/errors.js'

const dirs: string[] = []
function folder(config?: unknown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-unit-config-'))
  dirs.push(dir)
  if (config !== undefined) fs.writeFileSync(path.join(dir, 'janua.config.json'), typeof config === 'string' ? config : JSON.stringify(config))
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

const FLAG = 'postgres://flag@h/db'
const JANUA = 'postgres://janua-env@h/db'
const PLAIN = 'postgres://database-url@h/db'
const FILE = 'postgres://config-file@h/db'

describe('resolveSettings: the primary database', () => {
  it('flag > JANUA_DATABASE_URL > DATABASE_URL > janua.config.json > embedded', () => {
    const withFile = folder({ databaseUrl: FILE })
    const empty = folder()
    const env = { JANUA_DATABASE_URL: JANUA, DATABASE_URL: PLAIN }

    expect(resolveSettings({ databaseUrl: FLAG, env, cwd: withFile })).toMatchObject({ databaseUrl: FLAG, urlSource: '--database-url' })
    expect(resolveSettings({ env, cwd: withFile })).toMatchObject({ databaseUrl: JANUA, urlSource: 'JANUA_DATABASE_URL' })
    expect(resolveSettings({ env: { DATABASE_URL: PLAIN }, cwd: withFile })).toMatchObject({ databaseUrl: PLAIN, urlSource: 'DATABASE_URL' })
    expect(resolveSettings({ env: {}, cwd: withFile })).toMatchObject({ databaseUrl: FILE, urlSource: 'janua.config.json' })
    const embedded = resolveSettings({ env: {}, cwd: empty })
    expect(embedded.databaseUrl).toBeUndefined()
    expect(embedded.urlSource).toBe('embedded')
    expect(embedded.embeddedDir).toBe(path.join(empty, '.janua'))
    expect(embedded.cwd).toBe(empty)
  })

  it('skips empty and blank values', () => {
    const cwd = folder({ databaseUrl: '  ' })
    expect(resolveSettings({ databaseUrl: '', env: { JANUA_DATABASE_URL: '', DATABASE_URL: PLAIN }, cwd })).toMatchObject({ databaseUrl: PLAIN, urlSource: 'DATABASE_URL' })
    expect(resolveSettings({ databaseUrl: ' ', env: { JANUA_DATABASE_URL: '   ' }, cwd }).urlSource).toBe('embedded')
  })

  it('reads the env it is given, not process.env', () => {
    const saved = process.env.JANUA_DATABASE_URL
    process.env.JANUA_DATABASE_URL = 'postgres://from-process-env@h/db'
    try {
      expect(resolveSettings({ env: {}, cwd: folder() }).urlSource).toBe('embedded')
    } finally {
      if (saved === undefined) delete process.env.JANUA_DATABASE_URL
      else process.env.JANUA_DATABASE_URL = saved
    }
  })

  it('refuses a config file that is not a JSON object, with exit 2', () => {
    for (const text of ['{ not json', '[1, 2]', 'null']) {
      let caught: unknown
      try {
        resolveSettings({ env: {}, cwd: folder(text) })
      } catch (error) {
        caught = error
      }
      expect(caught, text).toBeInstanceOf(JanuaError)
      expect((caught as JanuaError).exitCode).toBe(2)
    }
  })
})

describe('resolveSettings: the template folder', () => {
  it('--templates > JANUA_TEMPLATES > janua.config.json > the package templates', () => {
    const cwd = folder({ templates: './from-config' })
    const env = { JANUA_TEMPLATES: '/abs/from-env' }
    expect(resolveSettings({ templates: '/abs/from-flag', env, cwd }).templatesDir).toBe('/abs/from-flag')
    expect(resolveSettings({ env, cwd }).templatesDir).toBe('/abs/from-env')
    expect(resolveSettings({ env: {}, cwd }).templatesDir).toBe(path.join(cwd, 'from-config'))
    expect(resolveSettings({ env: {}, cwd: folder() }).templatesDir).toBe(defaultTemplatesDir)
  })

  it('resolves relative folders against cwd', () => {
    const cwd = folder()
    expect(resolveSettings({ templates: 'db/templates', env: {}, cwd }).templatesDir).toBe(path.join(cwd, 'db', 'templates'))
    expect(resolveSettings({ env: { JANUA_TEMPLATES: './t' }, cwd }).templatesDir).toBe(path.join(cwd, 't'))
  })

  it('the package templates folder is the repository templates/', () => {
    expect(defaultTemplatesDir).toBe(path.resolve(import.meta.dirname, '..', '..', 'templates'))
    expect(fs.existsSync(path.join(defaultTemplatesDir, '0001_identity.sql'))).toBe(true)
  })
})

describe('resolveSettings: the app role', () => {
  it('defaults to janua_app; JANUA_APP_ROLE > config file; invalid names exit 2', () => {
    expect(resolveSettings({ env: {}, cwd: folder() }).appRole).toBe('janua_app')
    expect(resolveSettings({ env: {}, cwd: folder({ appRole: 'from_file' }) }).appRole).toBe('from_file')
    expect(resolveSettings({ env: { JANUA_APP_ROLE: 'from_env' }, cwd: folder({ appRole: 'from_file' }) }).appRole).toBe('from_env')
    for (const bad of ['pg_app', 'App', 'a;b', 'a-b']) {
      let caught: unknown
      try {
        resolveSettings({ env: { JANUA_APP_ROLE: bad }, cwd: folder() })
      } catch (error) {
        caught = error
      }
      expect(caught, bad).toBeInstanceOf(JanuaError)
      expect((caught as JanuaError).exitCode).toBe(2)
    }
  })
})
