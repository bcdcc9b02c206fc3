import path from 'node:path'
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'
import { repoRoot } from '../helpers/cli.js'

/**
 * The rules that keep the code's shape (eslint.config.js), checked on text written for the test.
 * The first lint loads the typed parser and the project (10 s next to the database suites): 60 s.
 */
describe('lint rules', { timeout: 60_000 }, () => {
  const eslint = new ESLint({ cwd: repoRoot })
  const messagesOf = async (file: string, code: string) => {
    const [result] = await eslint.lintText(code, { filePath: path.join(repoRoot, file) })
    return result!.messages.map((m) => `${m.ruleId}: ${m.message}`)
  }

  it('refuses an upward import: the ground floor importing the core, the core importing the command layer or oclif', async () => {
    expect(await messagesOf('src/db/example.ts', `import { createTenant } from '../core/tenants.js'\nexport const x = createTenant\n`)).toEqual([
      expect.stringMatching(/^no-restricted-imports: .*ground floor/),
    ])
    expect(await messagesOf('src/catalog/example.ts', `import { Janua } from '../core/context.js'\nexport const x = Janua\n`)).toHaveLength(1)
    expect(await messagesOf('src/core/example.ts', `import { colour } from '../cli/output.js'\nexport const x = colour\n`)).toEqual([
      expect.stringMatching(/^no-restricted-imports: .*core never imports/),
    ])
    expect(await messagesOf('src/core/move/example.ts', `import { Flags } from '@oclif/core'\nexport const x = Flags\n`)).toHaveLength(1)
    expect(await messagesOf('src/cli/example.ts', `import T from '../commands/tenant/list.js'\nexport const x = T\n`)).toHaveLength(1)
    // Downward is fine.
    expect(await messagesOf('src/core/example.ts', `import { ident } from '../sql/ident.js'\nexport const x = ident\n`)).toEqual([])
  })

  it('refuses a command file over the limit', async () => {
    const long = Array.from({ length: 130 }, (_, i) => `export const line${i} = ${i}`).join('\n')
    expect(await messagesOf('src/commands/tenant/example.ts', `${long}\n`)).toEqual([expect.stringMatching(/^max-lines:/)])
    expect(await messagesOf('src/core/example.ts', `${long}\n`)).toEqual([])
  })

  it('refuses a swallowed error and a level branch outside the isolation drivers', async () => {
    expect(await messagesOf('src/core/example.ts', `export const f = (p: Promise<void>) => p.catch(() => {})\n`)).toEqual([expect.stringMatching(/never swallow an error/)])
    expect(await messagesOf('src/core/example.ts', `export const f = (level: string) => level === 'shared'\n`)).toEqual([expect.stringMatching(/only the isolation drivers/)])
    expect(await messagesOf('src/core/isolation/example.ts', `export const f = (level: string) => level === 'shared'\n`)).toEqual([])
  })

  it('finds nothing in the code as it is', async () => {
    const results = await eslint.lintFiles(['src'])
    const problems = results.flatMap((r) => r.messages.map((m) => `${path.relative(repoRoot, r.filePath)}:${m.line} ${m.ruleId}: ${m.message}`))
    expect(problems).toEqual([])
  }, 60_000)
})
