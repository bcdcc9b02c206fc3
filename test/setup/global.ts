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

/**
 * The suite's own throwaway server trades durability for speed, as test servers do: no flush to
 * disk at commit or checkpoint (the server is never crashed under the suite; a test that stops a
 * server mid-operation stops its own), and shared buffers of 32 MB, enough for the suite's small
 * databases: every new backend maps each buffer it touches into its own page tables, and a smaller
 * pool means fewer pages to map per session (minor faults cost ~20 us here; docs/design.md).
 */
const TEST_SERVER_SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', shared_buffers: '32MB' }

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
  const { url } = await ensureEmbedded(dir, { settings: TEST_SERVER_SETTINGS })
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
