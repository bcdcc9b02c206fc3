// The error type lives on the ground floor (src/db/errors.ts) so that db/, sql/ and catalog/ import nothing above them.
export { ExitCode, JanuaError, NOT_FOUND, PLACEMENT_TAKEN, usageError, type ExitCodeValue } from '../db/errors.js'
