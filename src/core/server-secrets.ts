import { rememberSecret } from '../db/redact.js'
import { ExitCode, JanuaError, usageError } from './errors.js'
import { isSealed, parseKey, seal, unseal } from './sealed.js'

/**
 * Inline server passwords are kept in janua.servers.password only encrypted: AES-256-GCM under
 * JANUA_SECRET_KEY (32 bytes, base64 or hex), bound to the server's name so that a value copied to
 * another row does not decrypt. Without the key janua refuses an inline password (--url-env or
 * ~/.pgpass keep the secret out of the control plane altogether).
 */
export const SECRET_KEY_VARIABLE = 'JANUA_SECRET_KEY'
const KEY_HINT = `generate one with \`openssl rand -base64 32\`, keep it in your secret store, and export ${SECRET_KEY_VARIABLE} in every janua run`

function secretKey(): Buffer | undefined {
  const text = process.env[SECRET_KEY_VARIABLE]?.trim()
  if (!text) return undefined
  rememberSecret(text)
  const key = parseKey(text)
  if (!key) throw usageError(`$${SECRET_KEY_VARIABLE} is not a 32-byte key (64 hex digits or 44 base64 characters)`, KEY_HINT)
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
  return seal(key, Buffer.from(password, 'utf8'), serverAad(server))
}

/** The error code of a stored password that cannot be opened (no key, or another key). */
export const SECRET_KEY_MISSING = 'secret_key_missing'

export { isSealed }

const serverAad = (server: string) => `janua server ${server}`

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
  const opened = unseal(key, stored, serverAad(server))
  if (!opened)
    throw new JanuaError(
      `the stored password of server "${server}" does not decrypt with this $${SECRET_KEY_VARIABLE}`,
      ExitCode.usage,
      `export the ${SECRET_KEY_VARIABLE} it was stored with`,
      SECRET_KEY_MISSING,
    )
  const password = opened.toString('utf8')
  rememberSecret(password)
  return password
}
