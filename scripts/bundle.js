#!/usr/bin/env node
// Runs after tsc: rewrites each command file (dist/commands/**/*.js) as a bundle of the command,
// janua's own modules and its heaviest dependencies (kysely is 262 ES modules, pg some 30), with
// the code several commands share in dist/chunks/. Node then reads a handful of files to start a
// command instead of some 330: `janua tenant list` costs little more than `janua --version`
// (issue 9 item 6). The rest of dist/ (core/, db/, ...) stays as tsc wrote it, for the benchmarks
// and for anyone importing janua's API; only the CLI runs the bundles.
//
// The runner (dist/cli/launch.js, which bin/run.js imports) is bundled with the commands, so
// @oclif/core is in the bundles too, in one copy the runner and the commands share (the
// instanceof checks between its classes hold): Node otherwise loads some 60 of its CommonJS files
// and their dependencies on every run, ~60 ms of `janua --version`'s 0.26 s on the 2-core machine.
// The plugins (help, autocomplete) load their own copy from node_modules when one of their
// commands runs. oclif's few `__dirname`s (ES modules have none) are in fallbacks janua never
// reaches: Config.load without options, ts-node for plugins run from source. Kept outside: the
// other dependencies, small or loaded only when a command needs them.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const dist = path.join(root, 'dist')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))

/** Bundled: every file of these packages and of their own dependencies. */
const BUNDLED = new Set(['kysely', 'pg', 'pg-connection-string', '@oclif/core'])
/**
 * pg's optional native binding and its Cloudflare socket: never used by janua, never installed.
 * oclif's TypeScript support (typescript, ts-node, tsx, Yarn's pnpapi): only for plugins run from
 * source, which janua's CLI never is; bundling typescript would add 10 MB.
 */
const OPTIONAL = ['pg-native', 'pg-cloudflare', 'cloudflare:sockets', 'typescript', 'ts-node', 'tsx', 'pnpapi']
const external = [
  ...Object.keys(pkg.dependencies ?? {})
    .filter((name) => !BUNDLED.has(name))
    .flatMap((name) => [name, `${name}/*`]),
  ...OPTIONAL,
]

/** What esbuild bundles: every command, then the hooks and the runner. */
const entries = []
const walk = (dir) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) walk(file)
    else if (entry.name.endsWith('.js')) entries.push(file)
  }
}
walk(path.join(dist, 'commands'))
const commandCount = entries.length
// The runner and oclif's hooks share the commands' chunks (one @oclif/core).
walk(path.join(dist, 'hooks'))
entries.push(path.join(dist, 'cli', 'launch.js'))
if (entries.some((file) => fs.readFileSync(file, 'utf8').includes('__januaCreateRequire'))) {
  throw new Error('dist/commands is bundled already: run `npm run build` (tsc writes the files this script bundles)')
}

/**
 * pg asks whether it runs on Cloudflare Workers by constructing a fetch Response, which makes
 * Node 20 load its whole fetch implementation (undici): ~40 ms of every command that opens a
 * connection. janua runs on Node only.
 */
const nodeOnlyPg = {
  name: 'node-only-pg',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => {
      const source = await fs.promises.readFile(args.path, 'utf8')
      const patched = source.replace(/function isCloudflareRuntime\(\) \{/, 'function isCloudflareRuntime() {\n  return false')
      if (patched === source) throw new Error(`${args.path}: isCloudflareRuntime not found (pg changed): update scripts/bundle.js`)
      return { contents: patched, loader: 'js' }
    })
  },
}

fs.rmSync(path.join(dist, 'chunks'), { recursive: true, force: true })
const result = await build({
  absWorkingDir: root,
  entryPoints: entries,
  outdir: dist,
  outbase: dist,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  allowOverwrite: true,
  sourcemap: 'linked',
  logLevel: 'warning',
  // pg is CommonJS: its require() of Node's own modules needs a require in an ES module.
  banner: { js: "import { createRequire as __januaCreateRequire } from 'node:module'; const require = __januaCreateRequire(import.meta.url);" },
  metafile: true,
  plugins: [nodeOnlyPg],
})
// config.ts finds the package (and its built-in templates) two folders above its own file: it
// must land in dist/chunks/, as deep as dist/core/.
const configChunk = Object.entries(result.metafile.outputs).find(([, out]) => Object.keys(out.inputs).some((i) => i.endsWith('dist/core/config.js')))?.[0]
if (!configChunk?.includes('dist/chunks/')) throw new Error(`dist/core/config.js was bundled into ${configChunk}, not into dist/chunks/: its package root would be wrong`)
const inputs = Object.keys(result.metafile.inputs).length
const outputs = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js')).length
console.log(`bundled ${commandCount} commands, the runner and the hooks: ${inputs} modules into ${outputs} files`)
