import { ExitCode, JanuaError } from '../core/errors.js'
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
// 08: connection exceptions; 28: authorization; 3D000: no such database; 57P01-03: server shutting down
const UNREACHABLE_SQLSTATES = /^(08|28|3D000|57P0[123])/

export const isPgError = (error: unknown): error is PgError => error instanceof Error && typeof (error as PgError).code === 'string'

export function isUnreachable(error: unknown): boolean {
  if (!isPgError(error)) return error instanceof Error && /Connection terminated|connect ECONNREFUSED|timeout expired/i.test(error.message)
  return UNREACHABLE_NODE_CODES.has(error.code!) || UNREACHABLE_SQLSTATES.test(error.code!)
}

const TLS_NODE_CODES = /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID)$/
/** TLS the server cannot honour: not offered at all, or a certificate that does not verify. */
const isTlsRefusal = (error: unknown): boolean =>
  error instanceof Error && (/server does not support SSL connections/i.test(error.message) || TLS_NODE_CODES.test(String((error as PgError).code ?? '')))

/** Turns driver and server errors into the one error type, with the exit code of DESIGN.md. */
export function translateError(error: unknown, where?: string): JanuaError {
  if (error instanceof JanuaError) return error
  const prefix = where ? `${where}: ` : ''
  const message = redactAll(error instanceof Error ? error.message : String(error))
  if (isTlsRefusal(error)) {
    return new JanuaError(`${prefix}the connection asks for TLS (sslmode) and ${/does not support SSL/i.test(message) ? 'the server does not accept TLS connections' : `the server's certificate was refused (${message})`}`, ExitCode.unreachable,
      'use sslmode=disable (or prefer) for this server, enable ssl on it, or give its CA with sslrootcert=FILE')
  }
  if (isUnreachable(error)) {
    return new JanuaError(`${prefix}PostgreSQL is unreachable or refused the connection (${message})`, ExitCode.unreachable,
      'check the server is running and the URL (--database-url, JANUA_DATABASE_URL, DATABASE_URL) is right')
  }
  if (isPgError(error) && error.code === '55P03') {
    return new JanuaError(`${prefix}a lock is held by another run (${message})`, ExitCode.locked, 'wait for the other run to finish, or raise --lock-timeout')
  }
  const detail = isPgError(error) && error.detail ? ` (${redactAll(error.detail)})` : ''
  return new JanuaError(`${prefix}${message}${detail}`, ExitCode.failed)
}
