import type { Catalog } from './snapshot.js'
import type { Finding } from './findings.js'

const describe = (id: string) => id.replace(':', ' ').trim() || 'schema'

/** Expected (from the templates) against actual: one finding per object that differs. */
export function diffCatalogs(expected: Catalog, actual: Catalog): Finding[] {
  const findings: Finding[] = []
  for (const [id, want] of expected) {
    const have = actual.get(id)
    const object = describe(id)
    if (!have) findings.push({ code: `drift/${want.kind}`, change: 'missing', object, expected: want.descr, message: `${object} is missing` })
    else if (have.descr !== want.descr)
      findings.push({ code: `drift/${want.kind}`, change: 'different', object, expected: want.descr, actual: have.descr, message: `${object} differs` })
  }
  for (const [id, have] of actual) {
    if (!expected.has(id)) {
      const object = describe(id)
      findings.push({ code: `drift/${have.kind}`, change: 'unexpected', object, actual: have.descr, message: `${object} is not declared by the templates` })
    }
  }
  return findings.sort((a, b) => a.code.localeCompare(b.code) || a.object.localeCompare(b.object))
}
