#!/usr/bin/env node
// @oclif/core checks on load that Node satisfies its own engines range, loading semver for it
// (~35 ms of every command); janua's package.json states the engines it needs.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1'
const { execute } = await import('@oclif/core/execute')

await execute({ dir: import.meta.url })
