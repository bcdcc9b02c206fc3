import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

/**
 * AES-256-GCM with a 12-byte random IV, bound to additional data (what the value belongs to, so
 * that a value copied to another row does not open), stored as text
 * `aes-256-gcm:v1:<iv>:<tag>:<ciphertext>` (base64). Used for server passwords (JANUA_SECRET_KEY)
 * and for tenant data keys (the master key). node's crypto only; nothing hand-made.
 */
export const SEALED_PREFIX = 'aes-256-gcm:v1:'

export const isSealed = (stored: string) => stored.startsWith(SEALED_PREFIX)

/** Pure: a 32-byte key from 64 hex digits or base64 (44 characters), or undefined when the text is neither. */
export function parseKey(text: string): Buffer | undefined {
  const t = text.trim()
  const key = /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : /^[A-Za-z0-9+/_-]{43}=?$/.test(t) ? Buffer.from(t, 'base64') : undefined
  return key?.length === 32 ? key : undefined
}

/** Pure: seals bytes under a key, bound to `aad`. */
export function seal(key: Buffer, plaintext: Buffer, aad: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(aad))
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return `${SEALED_PREFIX}${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${sealed.toString('base64')}`
}

/** Pure: opens a sealed value, or undefined when the key (or the binding) is not the one it was sealed with. */
export function unseal(key: Buffer, stored: string, aad: string): Buffer | undefined {
  if (!isSealed(stored)) return undefined
  const [iv, tag, sealed] = stored
    .slice(SEALED_PREFIX.length)
    .split(':')
    .map((part) => Buffer.from(part, 'base64'))
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv!)
    decipher.setAAD(Buffer.from(aad))
    decipher.setAuthTag(tag!)
    return Buffer.concat([decipher.update(sealed!), decipher.final()])
  } catch {
    // GCM's authentication failed: another key, or a value bound to another tenant/version. The caller says which.
    return undefined
  }
}
