import { usageError } from './errors.js'

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

/** Refuses text with unsafe characters or out of its length range; returns it trimmed. */
export function validateText(what: string, flag: string, value: string, maxLength: number): string {
  const unsafe = unsafeCharacterOf(value)
  if (unsafe) throw usageError(`${what} contains the control character ${unsafe}`, `pass ${flag} as plain text, without control characters or terminal escape sequences`)
  const text = value.trim()
  if (text === '' || [...text].length > maxLength) throw usageError(`${what} must have 1 to ${maxLength} characters`, `pass ${flag} with 1 to ${maxLength} characters`)
  return text
}

export const validateTenantName = (name: string) => validateText('the tenant name', '--name', name, 200)

/** A plain address: one "@", a dot in the domain, no spaces or control characters, at most 254 characters. */
export function validateEmail(email: string, flag = '--billing-email'): string {
  const text = validateText('the email address', flag, email, 254)
  if (!/^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/u.test(text)) throw usageError(`invalid email address ${quoted(text)}`, `pass ${flag} as name@example.com`)
  return text
}

/**
 * The free-text fields of a new tenant, checked together before anything is created: returns the
 * display name (the slug when none is given).
 */
export function validateTenantFields(input: { slug: string; name?: string; domain?: string; plan?: string; billingEmail?: string }): { name: string } {
  const name = validateTenantName(input.name ?? input.slug)
  if (input.domain !== undefined) validateText('the domain', '--domain', input.domain, 253)
  if (input.plan !== undefined) validateText('the plan', '--plan', input.plan, 100)
  if (input.billingEmail !== undefined) validateEmail(input.billingEmail)
  return { name }
}

/** Template versions are stored as PostgreSQL integers: 1 to 2^31-1. */
export const MAX_VERSION = 2 ** 31 - 1
