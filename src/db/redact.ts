/**
 * Removes passwords from anything that may reach output: URLs (postgres://user:pw@host),
 * key=value connection strings (password=pw), multi-host URLs and query parameters.
 */
export function redact(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@\s]*)@/gi, '$1***@')
    .replace(/((?:^|[\s?&;])(?:password|pass|pwd|sslpassword)\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&;]+)/gi, '$1***')
}

/** Remembers secrets seen this run, so that they are removed even from text that hides their shape. */
const knownSecrets = new Set<string>()
export function rememberSecret(secret: string | undefined): void {
  if (secret && secret.length >= 3) knownSecrets.add(secret)
}
export function redactAll(text: string): string {
  let out = redact(text)
  for (const secret of knownSecrets) out = out.split(secret).join('***')
  return out
}
