import { inject } from 'vitest'
import { appendToLedger } from '../setup/ledger-file.js'

/** undefined in the unit project, which has no global setup and runs no CLI */
const ledgerDir = (): string | undefined => inject('ledgerDir')

/** A password (or key) some test uses: no output or stored row of the whole run may contain it (see test/setup/ledger-file.ts). */
export function registerSecret(secret: string | undefined): void {
  const dir = ledgerDir()
  if (dir && typeof secret === 'string' && secret.length >= 4) appendToLedger(dir, 'secrets', secret)
}

/** Text janua produced (output, stored rows), checked against every secret at the end of the run. */
export function recordSeen(label: string, text: string): void {
  const dir = ledgerDir()
  if (dir && text) appendToLedger(dir, 'seen', `# ${label}\n${text}`)
}
