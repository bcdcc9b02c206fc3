#!/usr/bin/env node
// Only the oclif modules a command needs (execute; the commands import command, flags, args and
// errors): oclif's index loads help, ux and more, ~35 ms. Its plugins (help, autocomplete) load
// that index, which checks that Node satisfies oclif's own engines range with semver (~35 ms):
// janua's package.json states the engines it needs.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1'
const { execute } = await import('@oclif/core/execute')

await execute({ dir: import.meta.url })
