import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { ensureEmbedded, stopEmbedded } from '../../src/core/embedded.js'

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string
  }
}

/** One server for the run: JANUA_TEST_DATABASE_URL if set, else an embedded one in a temp folder. */
export default async function setup(project: TestProject) {
  const external = process.env.JANUA_TEST_DATABASE_URL
  if (external) {
    project.provide('adminUrl', external)
    return
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-test-pg-'))
  fs.chmodSync(dir, 0o755)
  const { url } = await ensureEmbedded(dir)
  project.provide('adminUrl', url)
  return async () => {
    await stopEmbedded(dir).catch(() => {})
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'embedded.json'), 'utf8')) as { pgDir?: string }
    if (state.pgDir && !state.pgDir.startsWith(dir)) fs.rmSync(state.pgDir, { recursive: true, force: true })
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
