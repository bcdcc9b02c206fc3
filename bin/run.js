#!/usr/bin/env node
// The runner is dist/cli/launch.js: oclif's execute, bundled with the commands into one copy of
// @oclif/core (scripts/bundle.js). Its plugins (help, autocomplete) load oclif's index, which checks
// that Node satisfies oclif's own engines range with semver (~35 ms): janua's package.json states
// the engines it needs.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1'
const { execute } = await import('../dist/cli/launch.js')

await execute({ dir: import.meta.url })
