/**
 * Removes passwords from anything that may reach output: URLs (postgres://user:pw@host),
 * key=value connection strings (password=pw), multi-host URLs and query parameters. This is the
 * shape-based net; connection strings are stored and printed rebuilt without their password
 * (src/db/connection-string.ts), and redactAll removes every secret seen this run first.
 */
export function redact(text: string): string {
  return (
    text
      // The user info ends at the last "@" of the URL (a raw "@" belongs to the password, whole).
      .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s"']*:)([^\s"']*)@/gi, '$1***@')
      .replace(/((?:^|[\s?&;"'])(?:password|pass|pwd|sslpassword)\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&;"']+)/gi, '$1***')
  )
}

/** Remembers secrets seen this run, so that they are removed even from text that hides their shape. */
const knownSecrets = new Set<string>()
export function rememberSecret(secret: string | undefined): void {
  if (!secret || secret.length < 3) return
  // As written, percent-encoded (in a URL) and escaped (inside a JSON string).
  for (const form of [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]) knownSecrets.add(form)
}

/** Known secrets first (longest first, so no shorter one cuts a longer apart), then the shapes. */
export function redactAll(text: string): string {
  let out = text
  for (const secret of [...knownSecrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join('***')
  return redact(out)
}
