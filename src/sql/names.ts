/** Names of janua's own objects inside every placement (the ground floor: catalog/ and core/ both read them). */

/** Each placement records its own template history, in the same transaction as the DDL. */
export const HISTORY_TABLE = 'janua_template_history'
