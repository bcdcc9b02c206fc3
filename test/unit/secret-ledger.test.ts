import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { appendToLedger, ledgerLeaks, registerSecretIn } from '../setup/ledger-file.js'

// The suite-wide check (test/setup/global.ts) is only worth having if it would catch a leak.
const dirs: string[] = []
const scratch = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-ledger-'))
  dirs.push(dir)
  return dir
}
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

it('finds a registered secret, raw or URL-encoded, in any recorded text, and names where', () => {
  const dir = scratch()
  registerSecretIn(dir, 'Rw@tSECRET')
  registerSecretIn(dir, 'no') // too short to mean anything: ignored
  appendToLedger(dir, 'seen', '# janua server list\nclean output')
  appendToLedger(dir, 'seen', '# db_x janua.audit_log\n{"args": ["postgres://u:Rw%40tSECRET@h/db"]}')
  const { leaks, secrets } = ledgerLeaks(dir)
  expect(secrets).toBe(1)
  expect(leaks).toEqual([{ secret: 'Rw@…(10 chars)', where: '# db_x janua.audit_log' }])
})

it('is clean when no recorded text holds a secret', () => {
  const dir = scratch()
  registerSecretIn(dir, 'QpSECRET42')
  appendToLedger(dir, 'seen', '# janua server add\npostgres://u@h/db')
  expect(ledgerLeaks(dir).leaks).toEqual([])
})

it("does not count the test's own command line (the label), only what janua printed or stored", () => {
  const dir = scratch()
  registerSecretIn(dir, 's3cretPw')
  appendToLedger(dir, 'seen', '# janua tenant list --database-url postgres://u:s3cretPw@h/x\nerror: cannot reach postgres://u@h/x')
  expect(ledgerLeaks(dir).leaks).toEqual([])
  appendToLedger(dir, 'seen', '# janua tenant list --database-url postgres://u:s3cretPw@h/x\nerror: cannot reach postgres://u:s3cretPw@h/x')
  expect(ledgerLeaks(dir).leaks).toEqual([{ secret: 's3c…(8 chars)', where: '# janua tenant list --database-url postgres://u:***@h/x' }])
})
