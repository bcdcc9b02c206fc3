// The runner bin/run.js starts: bundled with the commands (scripts/bundle.js), so the runner and
// every command share one copy of @oclif/core. Only oclif's execute (its index loads help, ux and
// more).
export { execute } from '@oclif/core/execute'
