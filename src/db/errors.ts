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
    /** the error this one explains (a database error, a failed undo), kept for JANUA_DEBUG */
    options?: { cause?: unknown },
  ) {
    super(message, options)
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

/** A user mistake (exit 2); `cause` keeps the error that revealed it (JANUA_DEBUG shows it). */
export const usageError = (message: string, hint?: string, cause?: unknown) =>
  new JanuaError(message, ExitCode.usage, hint, undefined, undefined, cause === undefined ? undefined : { cause })

/** Error code of a create that found its schema or database already there: never removed by janua. */
export const PLACEMENT_TAKEN = 'placement_taken'

import { redactAll } from './redact.js'

export interface PgError extends Error {
  code?: string
  position?: string
  detail?: string
  hint?: string
  where?: string
  schema?: string
  table?: string
  constraint?: string
}

const UNREACHABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', 'ENETUNREACH'])
// 08: connection exceptions; 28: authorization; 57P01-03: server shutting down (or this backend terminated).
// Not 3D000 (no such database): the server answered; only that database is gone (see isMissingDatabase).
const UNREACHABLE_SQLSTATES = /^(08|28|57P0[123])/

/** JanuaError code of a connection refused because its database does not exist (SQLSTATE 3D000). */
export const MISSING_DATABASE = 'missing_database'
/** Error code of a named thing that does not exist (a tenant, a server): exit 2 like any bad input. */
export const NOT_FOUND = 'not_found'

export const isPgError = (error: unknown): error is PgError => error instanceof Error && typeof (error as PgError).code === 'string'

export function isUnreachable(error: unknown): boolean {
  if (!isPgError(error)) return error instanceof Error && /Connection terminated|connect ECONNREFUSED|timeout expired/i.test(error.message)
  return UNREACHABLE_NODE_CODES.has(error.code!) || UNREACHABLE_SQLSTATES.test(error.code!)
}

/** The server is up but the database the connection named does not exist (raw, or already translated). */
export function isMissingDatabase(error: unknown): boolean {
  if (error instanceof JanuaError) return error.code === MISSING_DATABASE
  return isPgError(error) && error.code === '3D000'
}
const TLS_NODE_CODES =
  /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID)$/
/** TLS the server cannot honour: not offered at all, or a certificate that does not verify. */
const isTlsRefusal = (error: unknown): boolean =>
  error instanceof Error && (/server does not support SSL connections/i.test(error.message) || TLS_NODE_CODES.test(String((error as PgError).code ?? '')))

/** Turns driver and server errors into the one error type, with the exit code of DESIGN.md. */
export function translateError(error: unknown, where?: string): JanuaError {
  if (error instanceof JanuaError) return error
  const prefix = where ? `${where}: ` : ''
  const message = redactAll(error instanceof Error ? error.message : String(error))
  if (isMissingDatabase(error)) {
    // The database a URL names is part of its configuration: for the primary or a server that is
    // exit 5. A tenant's own database is another matter: fleet code reports it per placement.
    return new JanuaError(
      `${prefix}${message}`,
      ExitCode.unreachable,
      "check the database name in the URL (--database-url, JANUA_DATABASE_URL, DATABASE_URL, or the server's URL)",
      MISSING_DATABASE,
      { sqlstate: '3D000' },
    )
  }
  if (isTlsRefusal(error)) {
    return new JanuaError(
      `${prefix}the connection asks for TLS (sslmode) and ${/does not support SSL/i.test(message) ? 'the server does not accept TLS connections' : `the server's certificate was refused (${message})`}`,
      ExitCode.unreachable,
      'use sslmode=disable (or prefer) for this server, enable ssl on it, or give its CA with sslrootcert=FILE',
    )
  }
  if (isUnreachable(error)) {
    return new JanuaError(
      `${prefix}PostgreSQL is unreachable or refused the connection (${message})`,
      ExitCode.unreachable,
      'check the server is running and the URL (--database-url, JANUA_DATABASE_URL, DATABASE_URL) is right',
    )
  }
  if (isPgError(error) && error.code === '55P03') {
    return new JanuaError(`${prefix}a lock is held by another run (${message})`, ExitCode.locked, 'wait for the other run to finish, or raise --lock-timeout')
  }
  const detail = isPgError(error) && error.detail ? ` (${redactAll(error.detail)})` : ''
  return new JanuaError(`${prefix}${message}${detail}`, ExitCode.failed)
}
