/**
 * A validator for the subset of JSON Schema that docs/json/*.schema.json use: type (one or a
 * list, "number" taking integers), properties, required, items, enum. No dependency: the schemas
 * are the contract, this only checks a document against one. Returns the problems, [] when valid.
 */
export interface Schema {
  type?: string | string[]
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema
  enum?: unknown[]
}

const typeOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value)

export function validate(schema: Schema, value: unknown, at = '$'): string[] {
  const problems: string[] = []
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type]
    const actual = typeOf(value)
    if (!types.includes(actual) && !(actual === 'number' && types.includes('integer') && Number.isInteger(value))) {
      return [`${at}: expected ${types.join(' or ')}, got ${actual}`]
    }
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value)))
    problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`)
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>
    for (const key of schema.required ?? []) if (!(key in object)) problems.push(`${at}: missing required "${key}"`)
    for (const [key, sub] of Object.entries(schema.properties ?? {})) if (key in object && object[key] !== undefined) problems.push(...validate(sub, object[key], `${at}.${key}`))
  }
  if (Array.isArray(value) && schema.items) value.forEach((item, i) => problems.push(...validate(schema.items!, item, `${at}[${i}]`)))
  return problems
}
