/** Exit codes of DESIGN.md: the only ones janua returns. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  drift: 3,
  locked: 4,
  unreachable: 5,
  checksum: 6,
} as const
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * The one error type: a message for the user (what and why), a hint (how to fix) and the
 * exit code. Anything else reaching the command layer is a bug or a database failure.
 */
export class JanuaError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue = ExitCode.failed,
    readonly hint?: string,
    readonly code: string = codeFor(exitCode),
    /** structured facts for --json reports (file, line, tenant...) */
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
    this.name = 'JanuaError'
  }
}

function codeFor(exitCode: number): string {
  switch (exitCode) {
    case ExitCode.usage:
      return 'invalid_input'
    case ExitCode.drift:
      return 'drift'
    case ExitCode.locked:
      return 'locked'
    case ExitCode.unreachable:
      return 'unreachable'
    case ExitCode.checksum:
      return 'checksum_mismatch'
    default:
      return 'failed'
  }
}

export const usageError = (message: string, hint?: string) => new JanuaError(message, ExitCode.usage, hint)

/** Error code of a create that found its schema or database already there: never removed by janua. */
export const PLACEMENT_TAKEN = 'placement_taken'
