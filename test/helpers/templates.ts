import { defaultTemplates, templateFolder } from './foundation.js'
import fs from 'node:fs'
import path from 'node:path'

/** A private copy of the default templates, so a test may add or edit files. */
export function copyTemplates(): { dir: string; add(name: string, sql: string): void; remove(): void } {
  const dir = templateFolder({}, defaultTemplates)
  return {
    dir,
    add: (name, sql) => fs.writeFileSync(path.join(dir, name), sql),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  }
}
