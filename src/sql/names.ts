/** Names of janua's own objects inside every placement (the ground floor: catalog/ and core/ both read them). */

/** Each placement records its own template history, in the same transaction as the DDL. */
export const HISTORY_TABLE = 'janua_template_history'

/**
 * Extensions live in one schema per database, on every placement's search_path, so every
 * placement of the database can use them (a `create extension` would otherwise land in the first
 * placement's schema only).
 */
export const EXTENSIONS_SCHEMA = 'extensions'

/**
 * The history table's comment: the placement's version, written with each history row in the
 * same transaction, so a fleet's versions are one catalog read (pg_description).
 */
export const historyVersionComment = (version: number): string => `janua version ${version}`

/** The version a history table's comment records; undefined when it records none (a placement of an older janua). */
export function versionInComment(comment: string | null | undefined): number | undefined {
  const match = /^janua version (\d{1,9})$/.exec(comment ?? '')
  return match ? Number(match[1]) : undefined
}
