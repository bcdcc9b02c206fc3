#!/usr/bin/env node
// `npm run bench -- <name> [args...]`: runs the benchmark in bench/<name>.js.
//
// A benchmark is a file bench/<name>.js exporting `async function run(args)`; it prints a readable
// report on stdout and a final line `BENCH_JSON {...}`; a failure throws (exit 1). Shared helpers
// live in bench/lib/. Benchmarks use the BUILT code (dist/), never src/.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const available = fs
  .readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'run.js')
  .map((f) => f.slice(0, -3))
  .sort()
const [name, ...args] = process.argv.slice(2)

if (!name || name === '--help' || name === '-h') {
  console.error(`usage: npm run bench -- <name> [args]\nbenchmarks: ${available.join(', ') || '(none)'}`)
  process.exit(name ? 0 : 2)
}
if (!/^[a-z][a-z0-9-]*$/.test(name) || !available.includes(name)) {
  console.error(`unknown benchmark "${name}"; benchmarks: ${available.join(', ') || '(none)'}`)
  process.exit(2)
}

const mod = await import(pathToFileURL(path.join(here, `${name}.js`)).href)
if (typeof mod.run !== 'function') {
  console.error(`bench/${name}.js exports no run(args) function`)
  process.exit(2)
}
try {
  await mod.run(args)
} catch (error) {
  console.error(`bench ${name} failed: ${error?.stack ?? error}`)
  process.exitCode = 1
}
