import type { Catalog } from './snapshot.js'
import type { Finding } from './findings.js'

/** Tenant-isolation rules checked on one placement's catalog (pure). */
export function lintCatalog(catalog: Catalog, appRole: string): Finding[] {
  const findings: Finding[] = []
  const add = (code: string, object: string, actual: string, message: string) => findings.push({ code, change: 'different', object, actual, message })
  const objects = [...catalog.values()]
  const tenantTables = new Set(objects.filter((o) => o.kind === 'column' && o.key.endsWith('.tenant_id')).map((o) => o.key.slice(0, -'.tenant_id'.length)))

  for (const table of objects.filter((o) => o.kind === 'table')) {
    if (table.descr.includes(`owner=${appRole}`) && /\bowner=(\S+)/.exec(table.descr)?.[1] === appRole) {
      add('lint/app-role-owner', `table ${table.key}`, table.descr, `${appRole} owns ${table.key}: it could turn RLS off`)
    }
    if (!tenantTables.has(table.key) || !/^(table|partitioned-table)\b/.test(table.descr)) continue
    if (/\bno-rls\b/.test(table.descr)) add('lint/rls-disabled', `table ${table.key}`, table.descr, `${table.key} has tenant_id but Row-Level Security is disabled`)
    if (/\bnot-forced\b/.test(table.descr)) add('lint/rls-not-forced', `table ${table.key}`, table.descr, `${table.key} does not FORCE Row-Level Security`)
    const policies = objects.filter((o) => o.kind === 'policy' && o.key.startsWith(`${table.key}.`))
    const guards = policies.some((p) => {
      const using = /using \((.*)\)(?: check \(|$)/.exec(p.descr)?.[1] ?? ''
      const check = /check \((.*)\)$/.exec(p.descr)?.[1]
      return /\bpermissive\b/.test(p.descr) && /\btenant_id\b/.test(using) && (check === undefined ? /for (all|select)/.test(p.descr) : /\btenant_id\b/.test(check))
    })
    if (!guards)
      add(
        'lint/no-tenant-policy',
        `table ${table.key}`,
        policies.map((p) => p.descr).join('; ') || 'no policy',
        `${table.key} has no policy comparing tenant_id in USING and WITH CHECK`,
      )
  }
  for (const policy of objects.filter((o) => o.kind === 'policy')) {
    if (/\bpermissive\b/.test(policy.descr) && (/using \(true\)/.test(policy.descr) || /check \(true\)/.test(policy.descr))) {
      add('lint/policy-always-true', `policy ${policy.key}`, policy.descr, `policy ${policy.key} lets every row through`)
    }
  }
  for (const con of objects.filter((o) => o.kind === 'constraint' && o.descr.startsWith('FOREIGN KEY'))) {
    const table = con.key.slice(0, con.key.indexOf('.'))
    const m = /^FOREIGN KEY \(([^)]*)\) REFERENCES ("?[^"(]+"?)\(([^)]*)\)/.exec(con.descr)
    if (!m) continue
    const parent = m[2]!.replaceAll('"', '')
    if (!tenantTables.has(table) || !tenantTables.has(parent)) continue
    const columns = m[1]!.split(',').map((c) => c.trim())
    const refs = m[3]!.split(',').map((c) => c.trim())
    if (columns.indexOf('tenant_id') === -1 || columns.indexOf('tenant_id') !== refs.indexOf('tenant_id')) {
      add('lint/fk-without-tenant', `constraint ${con.key}`, con.descr, `foreign key ${con.key} can point into another tenant: it does not match tenant_id`)
    }
  }
  for (const index of objects.filter((o) => o.kind === 'index')) {
    const m = /^CREATE (UNIQUE )?INDEX \S+ ON (?:ONLY )?("?[^"\s]+"?) USING \w+ \(([^,)]+)/.exec(index.descr)
    if (!m || m[1]) continue
    const table = m[2]!.replaceAll('"', '')
    if (tenantTables.has(table) && m[3]!.trim() !== 'tenant_id') {
      add('lint/index-not-tenant-led', `index ${index.key}`, index.descr, `index ${index.key} on ${table} does not lead with tenant_id`)
    }
  }
  for (const view of objects.filter((o) => o.kind === 'table' && /^view\b/.test(o.descr))) {
    if (!/\boptions=\S*security_invoker=(true|on|1)\b/i.test(view.descr)) {
      add('lint/view-not-security-invoker', `view ${view.key}`, view.descr, `view ${view.key} runs with its owner's rights: create it WITH (security_invoker = true)`)
    }
  }
  for (const grant of objects.filter((o) => o.kind === 'grant' && / to public$/.test(o.key) && !/^(function|type) /.test(o.key))) {
    add('lint/public-grant', `grant ${grant.key}`, grant.descr, `${grant.key.replace(/ to public$/, '')} grants ${grant.descr} to PUBLIC`)
  }
  const schema = catalog.get('schema:')
  if (schema && /public-create=true/.test(schema.descr)) add('lint/public-create', 'schema', schema.descr, 'PUBLIC may create objects in this schema')
  return findings
}
