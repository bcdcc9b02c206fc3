import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { usageError } from './errors.js'
import { validateRoleName } from '../sql/ident.js'
import { quoted } from '../sql/ident.js'

/** Where the primary database URL came from: shown by `dev url` and in errors. */
export type UrlSource = '--database-url' | 'JANUA_DATABASE_URL' | 'DATABASE_URL' | 'janua.config.json' | 'embedded'

export interface Settings {
  cwd: string
  /** undefined: the embedded default, started on first use */
  databaseUrl?: string
  urlSource: UrlSource
  templatesDir: string
  appRole: string
  embeddedDir: string
}

export interface SettingsInput {
  databaseUrl?: string
  templates?: string
  cwd?: string
  env?: NodeJS.ProcessEnv
}

interface ConfigFile {
  databaseUrl?: string
  templates?: string
  appRole?: string
}

export const CONFIG_FILE = 'janua.config.json'
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const defaultTemplatesDir = path.join(packageRoot, 'templates')

const CONFIG_KEYS = ['databaseUrl', 'templates', 'appRole'] as const
const CONFIG_EXAMPLE = '{ "databaseUrl": "postgres://...", "templates": "./templates", "appRole": "janua_app" }'

function readConfigFile(cwd: string): ConfigFile {
  const file = path.join(cwd, CONFIG_FILE)
  if (!fs.existsSync(file)) return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object')
  } catch (error) {
    throw usageError(`${file} is not valid JSON: ${(error as Error).message}`, `fix the file, e.g. ${CONFIG_EXAMPLE}`)
  }
  return checkConfig(file, parsed as Record<string, unknown>)
}

/** Every key known and every value a string: one line naming the first key that is not. */
export function checkConfig(file: string, config: Record<string, unknown>): ConfigFile {
  for (const [key, value] of Object.entries(config)) {
    if (key === '$schema') continue
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      throw usageError(`${file}: unknown key ${quoted(key)}`, `the keys are ${CONFIG_KEYS.join(', ')}; remove or rename it`)
    }
    if (typeof value !== 'string') {
      throw usageError(
        `${file}: "${key}" must be a string, not ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
        `fix the file, e.g. ${CONFIG_EXAMPLE}`,
      )
    }
  }
  return config as ConfigFile
}

export function resolveSettings(input: SettingsInput = {}): Settings {
  const env = input.env ?? process.env
  const cwd = input.cwd ?? process.cwd()
  const config = readConfigFile(cwd)
  const nonEmpty = (v: string | undefined) => (v && v.trim() !== '' ? v.trim() : undefined)

  let databaseUrl: string | undefined
  let urlSource: UrlSource = 'embedded'
  for (const [source, value] of [
    ['--database-url', input.databaseUrl],
    ['JANUA_DATABASE_URL', env.JANUA_DATABASE_URL],
    ['DATABASE_URL', env.DATABASE_URL],
    ['janua.config.json', config.databaseUrl],
  ] as const) {
    if (nonEmpty(value)) {
      databaseUrl = nonEmpty(value)
      urlSource = source
      break
    }
  }

  const templatesRaw = nonEmpty(input.templates) ?? nonEmpty(env.JANUA_TEMPLATES) ?? nonEmpty(config.templates)
  const templatesDir = templatesRaw ? path.resolve(cwd, templatesRaw) : defaultTemplatesDir
  const appRole = validateRoleName(nonEmpty(env.JANUA_APP_ROLE) ?? nonEmpty(config.appRole) ?? 'janua_app')
  return { cwd, databaseUrl, urlSource, templatesDir, appRole, embeddedDir: path.join(cwd, '.janua') }
}
