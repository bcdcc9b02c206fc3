/**
 * Steps of `tenant create --isolation database` after which a fault test may kill the run
 * (JANUA_FAULT_KILL_AFTER=<step>): `recorded` and `activated` in createTenant (tenants.ts),
 * the others in the database driver's provision (isolation/database.ts).
 */
export const CREATE_STEPS = ['recorded', 'template-ready', 'database-created', 'seeded', 'activated'] as const

/**
 * Test hook of create and move: SIGKILL this process right after the named step, when
 * JANUA_FAULT_KILL_AFTER names it. Kills, not exceptions: nothing of the run's own cleanup runs.
 */
export function faultPoint(step: string): void {
  if (process.env.JANUA_FAULT_KILL_AFTER === step) process.kill(process.pid, 'SIGKILL')
}
