import { usageError } from '../db/errors.js'

/** The one quoting helper: every identifier janua puts into SQL text passes through here. */
export function ident(name: string): string {
  // PostgreSQL truncates names longer than 63 bytes (not characters): refuse instead.
  if (name.length === 0 || Buffer.byteLength(name, 'utf8') > 63 || name.includes('\0')) {
    throw new Error(`invalid identifier ${JSON.stringify(name)}`)
  }
  return `"${name.replaceAll('"', '""')}"`
}

/** A qualified name: ident(schema).ident(name). */
export const qualified = (schema: string, name: string) => `${ident(schema)}.${ident(name)}`

/** A string literal, for the few statements that cannot take bind parameters (e.g. SET ... TO). */
export function literal(value: string): string {
  if (value.includes('\0')) throw new Error('invalid literal')
  return `'${value.replaceAll("'", "''")}'`
}

export const SLUG_PATTERN = /^[a-z][a-z0-9-]{0,39}$/
const RESERVED_SLUGS = new Set([
  'public',
  'janua',
  'shared',
  'template',
  'templates',
  'postgres',
  'admin',
  'root',
  'default',
  'all',
  'none',
  'system',
  'tenant',
  'tenants',
  'information-schema',
  'information_schema',
])

export function validateSlug(slug: string | undefined): string {
  const hint = 'a slug is a lowercase letter, then lowercase letters, digits or "-", at most 40 characters (e.g. acme-corp)'
  if (slug === undefined || slug === '') throw usageError('a tenant slug is required', hint)
  if (!SLUG_PATTERN.test(slug)) throw usageError(`invalid tenant slug ${quoted(slug)}`, hint)
  if (slug.startsWith('pg') || RESERVED_SLUGS.has(slug)) {
    throw usageError(`tenant slug "${slug}" is reserved`, 'choose another slug: names starting with "pg" and words such as public, janua, shared or template are reserved')
  }
  if (slug.endsWith('-') || slug.includes('--')) throw usageError(`invalid tenant slug "${slug}": it may not end with "-" or contain "--"`, hint)
  return slug
}

export const SERVER_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,30}$/
export function validateServerName(name: string): string {
  if (!SERVER_NAME_PATTERN.test(name)) {
    throw usageError(`invalid server name ${quoted(name)}`, 'a server name is a lowercase letter, then lowercase letters, digits, "_" or "-", at most 31 characters')
  }
  return name
}

/** Roles janua creates (the app role) come from config: a plain lowercase identifier. */
export function validateRoleName(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name) || name.startsWith('pg_')) {
    throw usageError(`invalid role name ${quoted(name)}`, 'use lowercase letters, digits and "_", not starting with pg_')
  }
  return name
}

/**
 * Free text janua stores and prints back (tenant names, emails, domains, plans): no control
 * characters (C0, DEL, C1: terminal escape sequences start with ESC or CSI), no line or paragraph
 * separators, and no bidirectional overrides that make a terminal show text other than what is stored.
 */
const UNSAFE_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u

/** The first unsafe character of a text, as a code point (U+001B), or undefined. */
export function unsafeCharacterOf(text: string): string | undefined {
  const match = UNSAFE_CHARACTER.exec(text)
  return match ? `U+${match[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` : undefined
}

/** Text with every unsafe character written as \uXXXX: safe to print, still readable. */
export function escapeControls(text: string): string {
  return text.replace(new RegExp(UNSAFE_CHARACTER.source, 'gu'), (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`)
}

/** Text quoted for a message (JSON quoting, and no raw control character): a refused input never drives the terminal. */
export const quoted = (text: string) => escapeControls(JSON.stringify(text))
