import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { repoRoot } from './cli.js'

/** A private copy of the default templates, so a test may add or edit files. */
export function copyTemplates(): { dir: string; add(name: string, sql: string): void; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janua-templates-'))
  fs.cpSync(path.join(repoRoot, 'templates'), dir, { recursive: true })
  return {
    dir,
    add: (name, sql) => fs.writeFileSync(path.join(dir, name), sql),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  }
}

/** Runs fn over items, `limit` at a time. */
export async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]!)
  }))
}
