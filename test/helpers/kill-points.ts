/**
 * Where move.test.ts kills a move (JANUA_FAULT_KILL_AFTER) before resuming it, and in a second run
 * aborting it, each at once under a lingering tenant lock; lock-wait.test.ts kills at the other
 * steps of MOVE_STEPS. Between them every step is killed and re-run at once. `copy-table` is a
 * point inside the copy, not a step.
 */
export const KILLED_IN_MOVE_TEST: readonly string[] = ['planned', 'prepared', 'fenced', 'copy-table', 'copied', 'verified', 'switched', 'source-removed']
