import fs from 'node:fs'
import path from 'node:path'

/**
 * The suite-wide secret check. Every test process appends the secrets it uses and everything that
 * could show one (CLI output, the control plane's rows before its database is dropped) to files in
 * one folder per run; the global teardown (test/setup/global.ts) reads them all and fails the run
 * when any secret appears anywhere. Per-file checks catch a leak early; this one catches the leak
 * a test did not think to look for.
 */

/** Appends to the run's ledger folder: secrets as JSON lines, seen text as NUL-separated records. */
export function appendToLedger(dir: string, kind: 'secrets' | 'seen', text: string): void {
  fs.appendFileSync(path.join(dir, `${kind}-${process.pid}.log`), kind === 'secrets' ? `${JSON.stringify(text)}\n` : `${text}\n\u0000\n`)
}

/** registerSecret for the global setup, which has the folder but no inject() */
export function registerSecretIn(dir: string, secret: string | undefined): void {
  if (typeof secret === 'string' && secret.length >= 4) appendToLedger(dir, 'secrets', secret)
}

export interface LedgerLeak {
  secret: string
  where: string
}

/** Reads the run's ledger: each registered secret (and its URL-encoded form) found in recorded text. */
export function ledgerLeaks(dir: string): { leaks: LedgerLeak[]; secrets: number; seenBytes: number } {
  const files = fs.readdirSync(dir)
  const secrets = new Set<string>()
  for (const f of files.filter((f) => f.startsWith('secrets-')))
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) if (line) secrets.add(JSON.parse(line) as string)
  const leaks: LedgerLeak[] = []
  let seenBytes = 0
  for (const f of files.filter((f) => f.startsWith('seen-'))) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8')
    seenBytes += text.length
    // A record is '# <label>' (the test's own command line, which may carry a secret on purpose) and janua's text.
    for (const record of text.split('\n\u0000\n')) {
      const newline = record.indexOf('\n')
      const [label, body] = newline < 0 ? [record, ''] : [record.slice(0, newline), record.slice(newline + 1)]
      for (const secret of secrets)
        if (body.includes(secret) || body.includes(encodeURIComponent(secret)))
          leaks.push({ secret: `${secret.slice(0, 3)}…(${secret.length} chars)`, where: label.replace(/:\/\/([^:@/\s]*):[^@\s]*@/g, '://$1:***@') })
    }
  }
  return { leaks, secrets: secrets.size, seenBytes }
}
