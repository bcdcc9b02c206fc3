import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { parse } from 'pg-connection-string'
import { ensureEmbedded, stopEmbedded } from '../../src/core/embedded.js'
import { ledgerLeaks, registerSecretIn } from './ledger-file.js'

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string
    /** the run's secret ledger (test/helpers/secret-ledger.ts) */
    ledgerDir: string
  }
}

const passwordOf = (url: string) => parse(url).password ?? undefined

/** One server for the run: JANUA_TEST_DATABASE_URL if set, else an embedded one in a temp folder. */
export default async function setup(project: TestProject) {
  const ledger = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-test-ledger-'))
  project.provide('ledgerDir', ledger)
  const checkLedger = () => {
    const { leaks, secrets, seenBytes } = ledgerLeaks(ledger)
    fs.rmSync(ledger, { recursive: true, force: true })
    if (leaks.length > 0) throw new Error(`a secret appeared in janua's output or control plane:\n${leaks.map((l) => `  ${l.secret} in ${l.where}`).join('\n')}`)
    console.log(`secret ledger (${project.name}): ${secrets} secrets, none in ${Math.round(seenBytes / 1024)} KiB of output and control-plane rows`)
  }
  const external = process.env.JANUA_TEST_DATABASE_URL
  if (external) {
    project.provide('adminUrl', external)
    registerSecretIn(ledger, passwordOf(external))
    return checkLedger
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-test-pg-'))
  fs.chmodSync(dir, 0o755)
  const { url } = await ensureEmbedded(dir)
  project.provide('adminUrl', url)
  registerSecretIn(ledger, passwordOf(url))
  return async () => {
    await stopEmbedded(dir).catch((error: unknown) => console.warn(`could not stop the embedded server: ${String(error)}`))
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'embedded.json'), 'utf8')) as { pgDir?: string }
    if (state.pgDir && !state.pgDir.startsWith(dir)) fs.rmSync(state.pgDir, { recursive: true, force: true })
    fs.rmSync(dir, { recursive: true, force: true })
    checkLedger()
  }
}
