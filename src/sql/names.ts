/** Names of janua's own objects inside every placement (the ground floor: catalog/ and core/ both read them). */

/** Each placement records its own template history, in the same transaction as the DDL. */
export const HISTORY_TABLE = 'janua_template_history'

/**
 * Extensions live in one schema per database, on every placement's search_path, so every
 * placement of the database can use them (a `create extension` would otherwise land in the first
 * placement's schema only).
 */
export const EXTENSIONS_SCHEMA = 'extensions'
