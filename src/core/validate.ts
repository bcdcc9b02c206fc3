import { usageError } from './errors.js'
import { quoted, unsafeCharacterOf } from '../sql/ident.js'

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
