import { sql, type Kysely } from 'kysely'
import type { ControlPlane } from '../db/schema.js'
import os from 'node:os'
import type { Janua } from './context.js'
import { redactAll } from '../db/redact.js'

/** The operation journal (janua.operations): every multi-step operation, step by step. */
export async function startOperation(
  janua: Janua,
  op: { kind: string; tenantId?: string; tenantSlug?: string; placementId?: string; runId?: string; step?: string; detail?: Record<string, unknown> },
): Promise<string> {
  const row = await janua.db
    .insertInto('janua.operations')
    .values({
      kind: op.kind,
      run_id: op.runId ?? null,
      tenant_id: op.tenantId ?? null,
      tenant_slug: op.tenantSlug ?? null,
      placement_id: op.placementId ?? null,
      status: 'running',
      step: op.step ?? null,
      detail: JSON.stringify(op.detail ?? {}),
      pid: process.pid,
      host: os.hostname(),
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  return String(row.id)
}

export async function setOperationStep(janua: Janua, id: string, step: string): Promise<void> {
  await janua.db.updateTable('janua.operations').set({ step }).where('id', '=', id).execute()
}

/** Closes a journal entry; `on` is a Janua (its own statement) or a Kysely transaction to join. */
export async function finishOperation(
  on: Janua | Kysely<ControlPlane>,
  id: string,
  status: 'succeeded' | 'failed' | 'aborted',
  error?: unknown,
  detail?: Record<string, unknown>,
): Promise<void> {
  const db = 'conn' in on ? on.db : on
  await db
    .updateTable('janua.operations')
    .set({
      status,
      finished_at: new Date(),
      error: error === undefined ? null : redactAll(error instanceof Error ? error.message : String(error)),
      ...(detail ? { detail: JSON.stringify(detail) } : {}),
    })
    .where('id', '=', id)
    .execute()
}

/** The operator audit log: who ran what, when, with what result. It outlives dropped tenants. */
export async function recordAudit(janua: Janua, entry: { command: string; args: string[]; exitCode: number; error?: string; durationMs: number }): Promise<void> {
  await janua.db
    .insertInto('janua.audit_log')
    .values({
      actor: janua.actor,
      db_user: sql<string>`current_user`,
      command: entry.command,
      args: JSON.stringify(entry.args.map(redactAll)),
      exit_code: entry.exitCode,
      error: entry.error ? redactAll(entry.error) : null,
      duration_ms: entry.durationMs,
    })
    .execute()
}
