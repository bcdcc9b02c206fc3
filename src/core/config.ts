import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { usageError } from './errors.js'
import { validateRoleName } from '../sql/ident.js'
import { quoted } from '../sql/ident.js'
import { closest } from './suggest.js'
import { parseConnection } from '../db/connection.js'

/** Where the primary database URL came from: shown by `dev url` and in errors. */
export type UrlSource = '--database-url' | 'JANUA_DATABASE_URL' | 'DATABASE_URL' | 'janua.config.json' | 'embedded'

/** Where the templates folder came from: named when the folder does not match the fleet. */
export type TemplatesSource = '--templates' | 'JANUA_TEMPLATES' | 'janua.config.json' | 'default'

export interface Settings {
  cwd: string
  /** the janua.config.json found from cwd up to the repository root, if any */
  configFile?: string
  /** undefined: the embedded default, started on first use */
  databaseUrl?: string
  urlSource: UrlSource
  templatesDir: string
  templatesSource: TemplatesSource
  appRole: string
  appRoleSource: 'JANUA_APP_ROLE' | 'janua.config.json' | 'default'
  embeddedDir: string
  /** why that folder: an existing .janua/ found upward, the config file's folder, or the current folder */
  embeddedSource: 'found' | 'janua.config.json' | 'cwd'
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

/**
 * `name` in `from` or the nearest folder above it, stopping at the repository root (a folder holding
 * `.git`) or the filesystem root: like .env / .gmrc tools, a subfolder of a project finds the
 * project's settings and never those of an unrelated folder above the repository.
 */
export function findUp(from: string, name: string, isWanted: (file: string) => boolean = fs.existsSync): string | undefined {
  let dir = path.resolve(from)
  for (;;) {
    const candidate = path.join(dir, name)
    if (isWanted(candidate)) return candidate
    const parent = path.dirname(dir)
    if (parent === dir || fs.existsSync(path.join(dir, '.git'))) return undefined
    dir = parent
  }
}

const isDirectory = (p: string) => {
  try {
    return fs.statSync(p).isDirectory()
  } catch {
    // Safe to lose: a path that is missing or unreadable is not a folder to use.
    return false
  }
}

function readConfigFile(file: string | undefined): ConfigFile {
  if (!file) return {}
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
      const near = closest(key, CONFIG_KEYS)
      throw usageError(
        `${file}: unknown key ${quoted(key)}${near ? ` (did you mean ${quoted(near)}?)` : ''}`,
        `the keys are ${CONFIG_KEYS.join(', ')}; ${near ? `rename it to ${quoted(near)}` : 'remove or rename it'}`,
      )
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
  const configFile = findUp(cwd, CONFIG_FILE, (f) => fs.existsSync(f) && !isDirectory(f))
  const config = readConfigFile(configFile)
  const configDir = configFile ? path.dirname(configFile) : cwd
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

  let templatesDir = defaultTemplatesDir
  let templatesSource: TemplatesSource = 'default'
  if (nonEmpty(input.templates)) [templatesDir, templatesSource] = [path.resolve(cwd, nonEmpty(input.templates)!), '--templates']
  else if (nonEmpty(env.JANUA_TEMPLATES)) [templatesDir, templatesSource] = [path.resolve(cwd, nonEmpty(env.JANUA_TEMPLATES)!), 'JANUA_TEMPLATES']
  // A path in the config file is relative to the file, wherever janua runs from.
  else if (nonEmpty(config.templates)) [templatesDir, templatesSource] = [path.resolve(configDir, nonEmpty(config.templates)!), 'janua.config.json']

  const appRoleSource = nonEmpty(env.JANUA_APP_ROLE) ? 'JANUA_APP_ROLE' : nonEmpty(config.appRole) ? 'janua.config.json' : 'default'
  const appRole = validateRoleName(nonEmpty(env.JANUA_APP_ROLE) ?? nonEmpty(config.appRole) ?? 'janua_app')

  const foundEmbedded = findUp(cwd, '.janua', isDirectory)
  const embeddedDir = foundEmbedded ?? path.join(configDir, '.janua')
  const embeddedSource = foundEmbedded ? 'found' : configFile ? 'janua.config.json' : 'cwd'
  return { cwd, configFile, databaseUrl, urlSource, templatesDir, templatesSource, appRole, appRoleSource, embeddedDir, embeddedSource }
}

/** A source as people read it: the config file by its path. */
export function describeSource(settings: Pick<Settings, 'configFile'>, source: string): string {
  return source === 'janua.config.json' && settings.configFile ? settings.configFile : source
}

export interface SettingReport {
  name: 'databaseUrl' | 'templates' | 'appRole' | 'embeddedDir'
  /** a database URL without its password; null for the embedded server not started yet */
  value: string | null
  source: string
}

/** `janua config`: each setting, its value and where it came from (nothing is connected to). */
export function describeSettings(input: SettingsInput = {}): { configFile: string | null; settings: SettingReport[] } {
  const settings = resolveSettings(input)
  const safeUrl = (url: string) => parseConnection(url).parsed.safe
  const src = (s: string) => describeSource(settings, s)
  return {
    configFile: settings.configFile ?? null,
    settings: [
      { name: 'databaseUrl', value: settings.databaseUrl ? safeUrl(settings.databaseUrl) : null, source: src(settings.urlSource) },
      { name: 'templates', value: settings.templatesDir, source: src(settings.templatesSource) },
      { name: 'appRole', value: settings.appRole, source: src(settings.appRoleSource) },
      {
        name: 'embeddedDir',
        value: settings.embeddedDir,
        source: settings.embeddedSource === 'found' ? 'found from the current folder up' : settings.embeddedSource === 'cwd' ? 'current folder' : src('janua.config.json'),
      },
    ],
  }
}
