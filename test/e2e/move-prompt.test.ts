import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { binRun, repoRoot, runCli } from '../helpers/cli.js'
import { freshDatabase, type TestDatabase } from '../helpers/db.js'
import { recordSeen } from '../helpers/secret-ledger.js'

/**
 * `tenant move` on a terminal shows its plan before it asks. The CLI runs under `script`
 * (util-linux), which gives it a pseudo-terminal: stdin and stdout are TTYs, as for a person.
 */
function onTerminal(args: string[], env: NodeJS.ProcessEnv, answer: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', COLUMNS: '120', TERM: 'xterm', ...env }
    delete childEnv.CI
    const command = [process.execPath, binRun, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
    const child = spawn('script', ['-qefc', command, '/dev/null'], { cwd: repoRoot, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    let answered = false
    const onData = (d: Buffer) => {
      output += d
      // Answer once the question is on the screen, as a person would.
      if (!answered && /\?.*\(y\/N\)/.test(output)) {
        answered = true
        child.stdin.write(answer)
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      recordSeen(`janua ${args.join(' ')} (terminal)`, output)
      resolve({ code: code ?? -1, output })
    })
  })
}

describe('tenant move on a terminal', () => {
  let db: TestDatabase
  const env = () => ({ DATABASE_URL: db.url, JANUA_DATABASE_URL: undefined, JANUA_TEMPLATES: undefined })

  beforeAll(async () => {
    db = await freshDatabase('e2e_prompt')
    expect((await runCli(['tenant', 'create', 'prompted', '--isolation', 'schema'], { env: env() })).code).toBe(0)
  }, 120_000)
  afterAll(async () => {
    await db?.drop()
  })

  it('prints the plan, then asks; "n" changes nothing (exit 2)', async () => {
    const r = await onTerminal(['tenant', 'move', 'prompted', '--to', 'database'], env(), 'n\r')
    const plan = r.output.indexOf('database')
    const question = r.output.search(/Move tenant "prompted" to database\?/)
    expect(question, r.output).toBeGreaterThan(0)
    // The plan (source, target, tables) is on the screen before the question.
    expect(r.output.slice(0, question)).toMatch(/tenant_prompted/)
    expect(plan).toBeLessThan(question)
    expect(r.output).toContain('not confirmed; nothing was changed')
    expect(r.code).toBe(2)
    const inspect = await runCli(['tenant', 'inspect', 'prompted', '--json'], { env: env() })
    expect(inspect.json).toMatchObject({ isolation: 'schema', status: 'active' })
  }, 120_000)

  it('"y" moves the tenant', async () => {
    const r = await onTerminal(['tenant', 'move', 'prompted', '--to', 'database'], env(), 'y\r')
    expect(r.code, r.output).toBe(0)
    const inspect = await runCli(['tenant', 'inspect', 'prompted', '--json'], { env: env() })
    expect(inspect.json).toMatchObject({ isolation: 'database', status: 'active' })
  }, 120_000)
})
