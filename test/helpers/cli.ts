import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { recordSeen } from './secret-ledger.js'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const binRun = path.join(repoRoot, 'bin', 'run.js')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
  /** stdout parsed as JSON (undefined when it is not one JSON document) */
  json: any
}

/** Every CLI output of the run, so a test can check no secret ever appeared in any of it. */
export const allOutput: string[] = []

/** Runs the built CLI (bin/run.js) as a subprocess, like a CI runbook would. */
export function runCli(
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv
    cwd?: string
    killAfterMs?: number
    onSpawn?: (pid: number) => void
    /** the one output that may show a secret (a one-time credential print): kept out of the secret ledger */
    showsSecret?: boolean
  } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', CI: 'true', ...options.env }
    for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key]
    const child = spawn(process.execPath, [binRun, ...args], { cwd: options.cwd ?? repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    if (child.pid) options.onSpawn?.(child.pid)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      allOutput.push(stdout, stderr)
      if (!options.showsSecret) recordSeen(`janua ${args.join(' ')}`, `${stdout}\n${stderr}`)
      let json: unknown
      try {
        json = JSON.parse(stdout)
      } catch {
        json = undefined
      }
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr, json })
    })
  })
}
