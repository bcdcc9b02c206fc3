import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { rememberSecret } from '../db/redact.js'
import { ExitCode, JanuaError, usageError } from './errors.js'

/**
 * Inline server passwords are kept in janua.servers.password only encrypted: AES-256-GCM under
 * JANUA_SECRET_KEY (32 bytes, base64 or hex), bound to the server's name so that a value copied to
 * another row does not decrypt. Without the key janua refuses an inline password (--url-env or
 * ~/.pgpass keep the secret out of the control plane altogether).
 */
export const SECRET_KEY_VARIABLE = 'JANUA_SECRET_KEY'
const PREFIX = 'aes-256-gcm:v1:'
const KEY_HINT = `generate one with \`openssl rand -base64 32\`, keep it in your secret store, and export ${SECRET_KEY_VARIABLE} in every janua run`

function secretKey(): Buffer | undefined {
  const text = process.env[SECRET_KEY_VARIABLE]?.trim()
  if (!text) return undefined
  rememberSecret(text)
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : /^[A-Za-z0-9+/_-]{43}=?$/.test(text) ? Buffer.from(text, 'base64') : undefined
  if (key?.length !== 32) throw usageError(`$${SECRET_KEY_VARIABLE} is not a 32-byte key (64 hex digits or 44 base64 characters)`, KEY_HINT)
  return key
}

/** Encrypts a server's password for janua.servers.password; refuses when no key is set. */
export function sealServerPassword(server: string, password: string): string {
  const key = secretKey()
  if (!key) {
    throw usageError(
      `the connection string of server "${server}" holds a password, and janua stores passwords only encrypted under $${SECRET_KEY_VARIABLE}, which is not set`,
      `give the URL with --url-env NAME (the secret stays in your environment), or put the password in ~/.pgpass and the URL without it; or ${KEY_HINT}`,
    )
  }
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(`janua server ${server}`))
  const sealed = Buffer.concat([cipher.update(password, 'utf8'), cipher.final()])
  return `${PREFIX}${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${sealed.toString('base64')}`
}

/** The error code of a stored password that cannot be opened (no key, or another key). */
export const SECRET_KEY_MISSING = 'secret_key_missing'

export const isSealed = (stored: string) => stored.startsWith(PREFIX)

/** The password stored for a server (sealed; a plain value from before encryption is used as it is). */
export function openServerPassword(server: string, stored: string): string {
  if (!isSealed(stored)) {
    rememberSecret(stored)
    return stored
  }
  const key = secretKey()
  if (!key)
    throw new JanuaError(
      `the password of server "${server}" is stored encrypted and $${SECRET_KEY_VARIABLE} is not set`,
      ExitCode.usage,
      `export the ${SECRET_KEY_VARIABLE} it was stored with`,
      SECRET_KEY_MISSING,
    )
  const [iv, tag, sealed] = stored
    .slice(PREFIX.length)
    .split(':')
    .map((part) => Buffer.from(part, 'base64'))
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv!)
    decipher.setAAD(Buffer.from(`janua server ${server}`))
    decipher.setAuthTag(tag!)
    const password = Buffer.concat([decipher.update(sealed!), decipher.final()]).toString('utf8')
    rememberSecret(password)
    return password
  } catch {
    throw new JanuaError(
      `the stored password of server "${server}" does not decrypt with this $${SECRET_KEY_VARIABLE}`,
      ExitCode.usage,
      `export the ${SECRET_KEY_VARIABLE} it was stored with`,
      SECRET_KEY_MISSING,
    )
  }
}
