import type pg from 'pg'
import { HISTORY_TABLE } from '../sql/names.js'

/**
 * One catalog pass over many schemas of one database. Every object becomes a row
 * (schema, kind, key, descr): names are schema-local and texts have the schema prefix removed,
 * so the same templates give the same rows in every placement.
 */
export type CatalogKind = 'schema' | 'table' | 'column' | 'index' | 'constraint' | 'policy' | 'grant' | 'function' | 'trigger'
export interface CatalogObject {
  kind: CatalogKind
  key: string
  descr: string
}
export type Catalog = Map<string, CatalogObject>
export const objectId = (o: { kind: string; key: string }) => `${o.kind}:${o.key}`

/**
 * detail: readable texts (pg_get_*def), for findings. fingerprint: the raw catalog fields instead of
 * the deparsers (4x faster on a thousand schemas); equal templates still give equal fields, and a
 * rare difference only sends the placement to the detailed comparison.
 */
const objectsSql = (mode: 'detail' | 'fingerprint') => `
with ns as (
  select oid, nspname, quote_ident(nspname) || '.' as prefix from pg_namespace where nspname = any($1::text[])
), rel as (
  select c.oid, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relowner, c.relacl, c.reloptions, ns.nspname, ns.prefix
    from pg_class c join ns on ns.oid = c.relnamespace
   where c.relkind in ('r', 'p', 'v', 'm', 'S') and c.relname <> '${HISTORY_TABLE}' and c.relname <> '${HISTORY_TABLE}_pkey'
), app as (
  select oid from pg_roles where rolname = $2
)
select ns.nspname::text as schema, 'schema'::text as kind, ''::text as key,
       concat_ws(' ', 'public-usage=' || has_schema_privilege('public', ns.oid, 'USAGE'), 'public-create=' || has_schema_privilege('public', ns.oid, 'CREATE'),
                 'app-usage=' || coalesce((select has_schema_privilege(app.oid, ns.oid, 'USAGE') from app), false),
                 'app-create=' || coalesce((select has_schema_privilege(app.oid, ns.oid, 'CREATE') from app), false))::text as descr
  from ns
union all
select nspname, 'table', relname,
       concat_ws(' ', case relkind when 'r' then 'table' when 'p' then 'partitioned-table' when 'v' then 'view' when 'm' then 'materialized-view' else 'sequence' end,
                 case when relkind in ('r', 'p') then case when relrowsecurity then 'rls' else 'no-rls' end end,
                 case when relkind in ('r', 'p') then case when relforcerowsecurity then 'forced' else 'not-forced' end end,
                 'owner=' || pg_get_userbyid(relowner),
                 'options=' || array_to_string(reloptions, ','),
                 case when relkind = 'v' then 'definition=' || md5(replace(pg_get_viewdef(oid), prefix, '')) end)
  from rel
union all
select r.nspname, 'column', r.relname::text || '.' || a.attname::text,
       concat_ws(' ', format_type(a.atttypid, a.atttypmod), case when a.attnotnull then 'not null' end,
                 case when a.attidentity <> '' then 'identity=' || a.attidentity::text end,
                 case when a.attgenerated <> '' then 'generated' end,
                 'default ' || ${mode === 'detail' ? "replace(pg_get_expr(d.adbin, d.adrelid), r.prefix, '')" : 'd.adbin::text'})
  from rel r
  join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
  left join pg_attrdef d on d.adrelid = r.oid and d.adnum = a.attnum
 where r.relkind in ('r', 'p', 'v', 'm')
union all
select r.nspname, 'index', i.relname::text,
       ${mode === 'detail' ? "replace(pg_get_indexdef(i.oid), r.prefix, '')" : `concat_ws(' ', i.relam, x.indisunique, x.indisprimary, x.indkey::text, x.indclass::text, x.indoption::text,
                 x.indcollation::text, x.indexprs::text, x.indpred::text)`}
  from rel r join pg_index x on x.indrelid = r.oid join pg_class i on i.oid = x.indexrelid
union all
select r.nspname, 'constraint', r.relname::text || '.' || con.conname::text,
       ${mode === 'detail' ? "replace(pg_get_constraintdef(con.oid), r.prefix, '')" : `concat_ws(' ', con.contype, con.condeferrable, con.condeferred, con.convalidated, con.conkey::text,
                 con.confkey::text, (select f.relname from pg_class f where f.oid = con.confrelid), con.confupdtype, con.confdeltype,
                 con.confmatchtype, con.confdelsetcols::text, con.conbin::text)`}
  from rel r join pg_constraint con on con.conrelid = r.oid
union all
select r.nspname, 'policy', r.relname::text || '.' || p.polname::text,
       concat_ws(' ', case when p.polpermissive then 'permissive' else 'restrictive' end,
                 'for ' || case p.polcmd when '*' then 'all' when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update' else 'delete' end,
                 'to ' || (select string_agg(case when rid = 0 then 'public' else pg_get_userbyid(rid) end, ',' order by 1) from unnest(p.polroles) rid),
                 'using (' || replace(pg_get_expr(p.polqual, p.polrelid), r.prefix, '') || ')',
                 'check (' || replace(pg_get_expr(p.polwithcheck, p.polrelid), r.prefix, '') || ')')
  from rel r join pg_policy p on p.polrelid = r.oid
union all
select r.nspname, 'grant', r.relname::text || ' to ' || case when g.grantee = 0 then 'public' else pg_get_userbyid(g.grantee) end,
       string_agg(g.privilege_type, ',' order by g.privilege_type)
  from rel r cross join lateral aclexplode(r.relacl) g
 where g.grantee = 0 or g.grantee in (select oid from app)
 group by r.nspname, r.relname, g.grantee
union all
select ns.nspname, 'function', p.proname::text || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       concat_ws(' ', 'returns ' || replace(pg_get_function_result(p.oid), ns.prefix, ''), 'security-definer=' || p.prosecdef,
                 'config=' || array_to_string(p.proconfig, ','), 'body=' || md5(p.prosrc))
  from pg_proc p join ns on ns.oid = p.pronamespace
 where p.proname not like 'janua\\_%'
union all
select r.nspname, 'trigger', r.relname::text || '.' || t.tgname::text, replace(pg_get_triggerdef(t.oid), r.prefix, '')
  from rel r join pg_trigger t on t.tgrelid = r.oid and not t.tgisinternal and t.tgname not like 'janua\\_%'
`

/** md5 of each schema's objects: equal fingerprints mean equal catalogs. */
const FINGERPRINT_SQL = `select schema, md5(string_agg(kind || ':' || key || '=' || coalesce(descr, ''), E'\\n' order by kind collate "C", key collate "C")) as fingerprint
  from (${objectsSql('fingerprint')}) o group by schema`

export async function fingerprints(client: pg.ClientBase, schemas: string[], appRole: string): Promise<Map<string, string>> {
  const { rows } = await client.query<{ schema: string; fingerprint: string }>(FINGERPRINT_SQL, [schemas, appRole])
  return new Map(rows.map((r) => [r.schema, r.fingerprint]))
}

export async function catalogs(client: pg.ClientBase, schemas: string[], appRole: string): Promise<Map<string, Catalog>> {
  const { rows } = await client.query<CatalogObject & { schema: string }>(objectsSql('detail'), [schemas, appRole])
  const result = new Map<string, Catalog>(schemas.map((s) => [s, new Map()]))
  for (const row of rows) result.get(row.schema)?.set(objectId(row), { kind: row.kind, key: row.key, descr: row.descr ?? '' })
  return result
}
