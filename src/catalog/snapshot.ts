import { createHash } from 'node:crypto'
import type pg from 'pg'
import { EXTENSIONS_SCHEMA, HISTORY_TABLE } from '../sql/names.js'
import { CATALOG_SESSIONS, shareOut } from '../db/connection.js'
import { literal, ident as quoteIdent } from '../sql/ident.js'

/**
 * One catalog pass over many schemas of one database. Every object becomes a row
 * (schema, kind, key, descr): names are schema-local and texts never name the placement's own
 * schema, so the same templates give the same rows in every placement.
 */
export type CatalogKind = 'schema' | 'table' | 'column' | 'index' | 'constraint' | 'policy' | 'grant' | 'function' | 'trigger' | 'type' | 'sequence' | 'comment' | 'collation'
export interface CatalogObject {
  kind: CatalogKind
  key: string
  descr: string
}
export type Catalog = Map<string, CatalogObject>
export const objectId = (o: { kind: string; key: string }) => `${o.kind}:${o.key}`

/** Where a placement's own schema name is replaced, this token stands for it (function settings). */
export const PLACEMENT_TOKEN = '$placement'

/**
 * OIDs of objects created after initdb differ from schema to schema and from database to
 * database: a stored node tree or OID vector that mentions one (or a reg* constant such as
 * nextval('seq'::regclass)) is compared through its deparsed text instead of its raw form.
 * PostgreSQL records every object an expression mentions in pg_depend (normal or automatic),
 * so one index probe tells whether a stored expression names a user object: no regular
 * expression over its text, which costs more than producing the text itself.
 */
const FIRST_USER_OID = 16384

/**
 * detail: readable texts (pg_get_*def), read one schema at a time with search_path set to it, so
 * the deparsers never print the schema. fingerprint: many schemas in one query, with the raw
 * catalog fields where they do not depend on OIDs (4x faster on a thousand schemas) and the
 * schema prefix removed from the few deparsed texts; equal templates still give equal rows, and a
 * rare difference only sends the placement to the detailed comparison. A fingerprint's rows need
 * not be the detailed catalog's rows, only as complete (a column's grants are part of its row).
 */
/** janua's tenant roles (src/core/tenant-access.ts): their grants are janua's copies, not the templates'. */
const TENANT_ROLE_PATTERN = '^janua_[0-9a-f]{8}_(tenants$|t_)'

/**
 * The catalog rows of a list of schemas as branches of one union (each a select of the schema's
 * OID, kind, key, descr) under common CTEs ($1: the schemas, $2: the app role). The detailed catalog runs
 * the whole union; fingerprints sum each branch (or group of branches) on its own (FINGERPRINT_SQL).
 */
function objectQueries(mode: 'detail' | 'fingerprint', fingerprintRelations = 'urel'): { ctes: (inline: boolean) => string; branches: string[] } {
  const detail = mode === 'detail'
  /**
   * The objects of a schema's namespace, through their dependency on the namespace (pg_depend's
   * reference index): pg_class, pg_type and pg_proc have no index led by the namespace, and
   * scanning them costs seconds among ten thousand schemas. Reading every object of the schemas
   * through indexes (nested loops, see withSettings) costs what the schemas hold, not what the
   * database holds (measured in docs/design.md: see FINGERPRINT_SQL).
   */
  const inSchemas = (catalog: string, alias: string, column: string) =>
    `${catalog} ${alias} join pg_depend nsdep on nsdep.classid = '${catalog}'::regclass and nsdep.objid = ${alias}.oid and nsdep.objsubid = 0 and nsdep.deptype = 'n'
       join ns on ns.oid = nsdep.refobjid and nsdep.refclassid = 'pg_namespace'::regclass and ns.oid = ${alias}.${column}`
  /**
   * A deparsed text without the placement's schema prefix: pg_get_indexdef and pg_get_triggerdef
   * qualify the table whatever the search_path. Detail mode removes "<schema>." only where it
   * does not follow a letter, "." or '"' (one pattern per query: one schema at a time).
   * Fingerprint mode uses a plain replace: a regular expression per schema would be compiled
   * again for every row, and removing too much there only sends a placement to the detailed
   * comparison. View definitions in detail mode are not stripped: search_path already hides the
   * schema, and a table alias may look like it ("tenant.id").
   */
  const strip = (expr: string, prefixRe = 'prefix_re') =>
    detail ? `regexp_replace(${expr}, ${prefixRe}, '\\1', 'g')` : `replace(${expr}, ${prefixRe.replaceAll('prefix_re', 'prefix')}, '')`
  /**
   * Whether the expressions stored with an object (catalog, oid) name a user object other than its
   * own table or type: a raw node tree that names one differs between placements only by OIDs.
   * pg_depend holds what an expression calls or casts to, but not the types and collations of
   * the columns it reads (a Var carries them): ownUserTyped says whether the owner has such a
   * column (a domain, whether its base type or collation is a user object).
   */
  const namesUserObject = (catalog: string, oid: string, own: string, ownUserTyped: string) =>
    `(${ownUserTyped} or exists (select 1 from pg_depend dep where dep.classid = '${catalog}'::regclass and dep.objid = ${oid} and dep.deptype in ('n', 'a')
       and dep.refobjid >= ${FIRST_USER_OID}::oid and dep.refobjid <> ${own}))`
  /** A stored expression: raw, unless it names a user object. */
  const nodeOr = (raw: string, deparsed: string, prefixRe: string, names: string) =>
    detail ? strip(deparsed, prefixRe) : `case when ${names} then ${strip(deparsed, prefixRe)} else ${raw}::text end`
  /** Labelled stored expressions of one object ("using (...) check (...)"), raw unless they name a user object: one probe for all. */
  const nodesOr = (parts: { label: string; raw: string; deparsed: string }[], prefixRe: string, names: string) => {
    const text = (pick: (part: { raw: string; deparsed: string }) => string) =>
      `nullif(concat_ws(' ', ${parts.map((part) => `'${part.label} (' || ${pick(part)} || ')'`).join(', ')}), '')`
    const deparsed = text((part) => strip(part.deparsed, prefixRe))
    return detail ? deparsed : `case when ${names} then ${deparsed} else ${text((part) => `${part.raw}::text`)} end`
  }
  /** A column's NOT NULL, identity and generation: the same fields in both modes. */
  const columnFlags = `case when a.attnotnull then 'not null' end,
                 case when a.attidentity <> '' then 'identity=' || a.attidentity::text end,
                 case when a.attgenerated <> '' then 'generated=' || a.attgenerated::text end,`
  /**
   * The relations, read once per fingerprint statement (with user_typed, which expressions need);
   * or one of them, the outer row r0 of urel, where each relation's rows are summed on their own.
   */
  const relations = detail ? 'rel' : fingerprintRelations
  const constraintDescr = (alias: string) =>
    detail
      ? strip('pg_get_constraintdef(con.oid)', `${alias}.prefix_re`)
      : `case when (con.conbin is not null or con.conexclop is not null)
                and ${namesUserObject('pg_constraint', 'con.oid', `coalesce(nullif(con.conrelid, 0), con.contypid)`, `(con.conbin is not null and ${alias}.user_typed)`)}
         then ${strip('pg_get_constraintdef(con.oid)', `${alias}.prefix_re`)}
         else concat_ws(' ', con.contype, con.condeferrable, con.condeferred, con.convalidated, con.connoinherit, con.conkey::text, con.confkey::text,
           case when con.confrelid <> 0 then (select f.relname from pg_class f where f.oid = con.confrelid) end, con.confupdtype, con.confdeltype, con.confmatchtype,
           con.confdelsetcols::text, con.conexclop::text, con.conbin::text) end`
  /**
   * inline: the relations, types and functions are read again in each branch that names them, so
   * that the planner plans each branch with what it reads (see FINGERPRINT_SQL); else read once and
   * shared (PostgreSQL materializes a CTE named more than once), which plans in a third of the time.
   */
  const ctes = (inline: boolean) => {
    const shared = inline ? 'not materialized ' : ''
    return String.raw`
with ns as (
  select oid, nspname, quote_ident(nspname) || '.' as prefix,
         '(^|[^\w."])' || regexp_replace(quote_ident(nspname) || '.', '(\W)', '\\\1', 'g') as prefix_re
    from pg_namespace where nspname = any($1::text[])
), rel as ${shared}(
  select c.oid, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relowner, c.relacl, c.reloptions, c.relpersistence,
         c.relispartition, c.relpartbound, ns.oid as nsoid, ns.prefix, ns.prefix_re
    from ${inSchemas('pg_class', 'c', 'relnamespace')}
   where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f') and c.relname <> '${HISTORY_TABLE}'${
     detail
       ? ''
       : `
), urel as materialized (
  -- the relations once for all the branches that start from them (see FINGERPRINT_SQL), with
  -- whether a column has a user type or collation (PostgreSQL records a column's dependency on its type
  -- and collation unless they are built in)
  select rel.*, exists (select 1 from pg_depend ud where ud.classid = 'pg_class'::regclass and ud.objid = rel.oid and ud.objsubid > 0
                           and ud.refclassid in ('pg_type'::regclass, 'pg_collation'::regclass) and ud.refobjid >= ${FIRST_USER_OID}::oid) as user_typed
    from rel`
   }
), app as (
  select oid, rolname from pg_roles where rolname = $2
), typ as ${shared}(
  select t.oid, t.typname, t.typtype, t.typbasetype, t.typtypmod, t.typnotnull, t.typdefault, t.typcollation, t.typrelid, t.typacl, ns.oid as nsoid, ns.prefix, ns.prefix_re,
         t.typbasetype >= ${FIRST_USER_OID}::oid or t.typcollation >= ${FIRST_USER_OID}::oid as user_typed
    from ${inSchemas('pg_type', 't', 'typnamespace')}
    left join pg_class tc on tc.oid = t.typrelid
   where t.typtype in ('e', 'd', 'c', 'r') and (t.typtype <> 'c' or tc.relkind = 'c')
     and not exists (select 1 from pg_depend e where e.classid = 'pg_type'::regclass and e.objid = t.oid and e.deptype = 'e')
), fn as ${shared}(
  select p.oid, p.proname, p.prokind, p.prolang, p.provolatile, p.proisstrict, p.prosecdef, p.proleakproof, p.proparallel, p.proconfig, p.prosrc,
         p.proacl, p.proowner, p.prosqlbody is not null as sql_body, ns.oid as nsoid, ns.nspname, ns.prefix, ns.prefix_re,
         p.proname::text || '(' || ${strip('pg_get_function_identity_arguments(p.oid)', 'ns.prefix_re')} || ')' as signature
    from ${inSchemas('pg_proc', 'p', 'pronamespace')}
   where p.proname not like 'janua\_%'
     and not exists (select 1 from pg_depend e where e.classid = 'pg_proc'::regclass and e.objid = p.oid and e.deptype = 'e')
)`
  }
  const branches = [
    String.raw`
select ns.oid as schema, 'schema'::text as kind, ''::text as key,
       concat_ws(' ', 'public-usage=' || has_schema_privilege('public', ns.oid, 'USAGE'), 'public-create=' || has_schema_privilege('public', ns.oid, 'CREATE'),
                 'app-usage=' || coalesce((select has_schema_privilege(app.oid, ns.oid, 'USAGE') from app), false),
                 'app-create=' || coalesce((select has_schema_privilege(app.oid, ns.oid, 'CREATE') from app), false))::text as descr
  from ns
`,
    String.raw`
select nsoid, 'table'::text, relname::text, -- text: the first branch of a union decides its columns' types (a name would cut longer keys)
       concat_ws(' ', case relkind when 'r' then 'table' when 'p' then 'partitioned-table' when 'v' then 'view' when 'm' then 'materialized-view' else 'foreign-table' end,
                 case when relkind in ('r', 'p') then case when relrowsecurity then 'rls' else 'no-rls' end end,
                 case when relkind in ('r', 'p') then case when relforcerowsecurity then 'forced' else 'not-forced' end end,
                 -- only the app role is named: janua's own role may be called differently on each server
                 (select 'owner=' || app.rolname from app where app.oid = relowner),
                 case when relpersistence = 'u' then 'unlogged' end,
                 'options=' || array_to_string(reloptions, ','),
                 case when relkind = 'p' then 'partition-by=' || ${strip('pg_get_partkeydef(oid)')} end,
                 case when relispartition then 'partition-of=' || (select p.relname from pg_inherits i join pg_class p on p.oid = i.inhparent where i.inhrelid = rel.oid)
                   || ' ' || ${strip('pg_get_expr(relpartbound, oid)')} end,
                 case when relkind in ('v', 'm') then 'definition=' || ${detail ? 'pg_get_viewdef(oid)' : `md5(${strip('pg_get_viewdef(oid)')})`} end)
  from ${relations} rel where relkind <> 'S'
`,
    String.raw`
select r.nsoid, 'sequence', r.relname,
       concat_ws(' ', format_type(s.seqtypid, null), 'start=' || s.seqstart, 'increment=' || s.seqincrement, 'min=' || s.seqmin, 'max=' || s.seqmax,
                 'cache=' || s.seqcache, case when s.seqcycle then 'cycle' end,
                 (select case d.deptype when 'i' then 'identity-of=' else 'owned-by=' end || t.relname || '.' || a.attname
                    from pg_depend d join pg_class t on t.oid = d.refobjid join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
                   where d.classid = 'pg_class'::regclass and d.objid = r.oid and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i') limit 1))
  from ${relations} r join pg_sequence s on s.seqrelid = r.oid
 where r.relkind = 'S'
`,
    String.raw`
select r.nsoid, 'column', r.relname::text || '.' || a.attname::text,
       ${
         detail
           ? `concat_ws(' ', ${strip('format_type(a.atttypid, a.atttypmod)', 'r.prefix_re')}, ${columnFlags}
                 case when a.attcollation <> 0 and a.attcollation <> ty.typcollation then 'collate ' || ${strip('a.attcollation::regcollation::text', 'r.prefix_re')} end,
                 'default ' || ${strip('pg_get_expr(d.adbin, d.adrelid)', 'r.prefix_re')})
  from rel r
  join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
  join pg_type ty on ty.oid = a.atttypid
  left join pg_attrdef d on d.adrelid = r.oid and d.adnum = a.attnum`
           : // built-in types and collations by OID (the same on every server of a major version),
             // user ones by name; defaults are rows of their own (below)
             `concat_ws(' ', case when a.atttypid < ${FIRST_USER_OID}::oid then a.atttypid::text || '(' || a.atttypmod || ')' else ${strip('format_type(a.atttypid, a.atttypmod)', 'r.prefix_re')} end,
                 ${columnFlags}
                 case when a.attcollation <> 0 then 'collation=' || case when a.attcollation < ${FIRST_USER_OID}::oid then a.attcollation::text
                   else ${strip('a.attcollation::regcollation::text', 'r.prefix_re')} end end,
                 -- the column's grants here, not as grant rows: a branch of their own read every column again
                 case when a.attacl is not null then 'grants=' || (
                   select string_agg(grantee || ':' || privileges, ';' order by grantee)
                     from (select case when g.grantee = 0 then 'public' else pg_get_userbyid(g.grantee) end as grantee, string_agg(g.privilege_type, ',' order by g.privilege_type) as privileges
                             from aclexplode(a.attacl) g where pg_get_userbyid(g.grantee) !~ '${TENANT_ROLE_PATTERN}' group by g.grantee) cg) end)
  from ${relations} r
  join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped`
       }
 where r.relkind in ('r', 'p', 'v', 'm', 'f')
`,
    // fingerprints: a column's default is a row of its own, keyed by the column's number, so that a
    // table's defaults are one index range of pg_attrdef (not one probe per column)
    ...(detail
      ? []
      : [
          String.raw`
select r.nsoid, 'default', r.relname::text || '#' || d.adnum::text,
       ${nodeOr('d.adbin', 'pg_get_expr(d.adbin, d.adrelid)', 'r.prefix_re', namesUserObject('pg_attrdef', 'd.oid', 'd.adrelid', 'r.user_typed'))}
  from ${relations} r join pg_attrdef d on d.adrelid = r.oid
`,
        ]),
    String.raw`
select r.nsoid, 'index', i.relname::text,
       ${
         detail
           ? strip('pg_get_indexdef(i.oid)', 'r.prefix_re')
           : // without expressions only the operator classes and collations can name user objects: no pg_depend probe;
             // a built-in access method by its OID (no pg_am probe)
             `case when case when x.indexprs is null and x.indpred is null
                             then not (${FIRST_USER_OID}::oid > all(x.indclass::oid[]) and ${FIRST_USER_OID}::oid > all(x.indcollation::oid[]))
                             else ${namesUserObject('pg_class', 'x.indexrelid', 'x.indrelid', 'r.user_typed')} end
                 then ${strip('pg_get_indexdef(i.oid)', 'r.prefix_re')}
                 else concat_ws(' ', case when i.relam < ${FIRST_USER_OID}::oid then i.relam::text else (select am.amname from pg_am am where am.oid = i.relam) end, x.indisunique, x.indisprimary, x.indisexclusion, x.indnullsnotdistinct, x.indkey::text,
                   x.indclass::text, x.indoption::text, x.indcollation::text, x.indexprs::text, x.indpred::text) end`
       }
  from ${relations} r join pg_index x on x.indrelid = r.oid join pg_class i on i.oid = x.indexrelid
`,
    String.raw`
select r.nsoid, 'constraint', r.relname::text || '.' || con.conname::text, ${constraintDescr('r')}
  from ${relations} r join pg_constraint con on con.conrelid = r.oid
`,
    String.raw`
select t.nsoid, 'constraint', t.typname::text || '.' || con.conname::text, ${constraintDescr('t')}
  from typ t join pg_constraint con on con.contypid = t.oid
`,
    String.raw`
select r.nsoid, 'policy', r.relname::text || '.' || p.polname::text,
       concat_ws(' ', case when p.polpermissive then 'permissive' else 'restrictive' end,
                 'for ' || case p.polcmd when '*' then 'all' when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update' else 'delete' end,
                 'to ' || (select string_agg(case when rid = 0 then 'public' else pg_get_userbyid(rid) end, ',' order by 1) from unnest(p.polroles) rid),
                 ${nodesOr(
                   [
                     { label: 'using', raw: 'p.polqual', deparsed: 'pg_get_expr(p.polqual, p.polrelid)' },
                     { label: 'check', raw: 'p.polwithcheck', deparsed: 'pg_get_expr(p.polwithcheck, p.polrelid)' },
                   ],
                   'r.prefix_re',
                   namesUserObject('pg_policy', 'p.oid', 'p.polrelid', 'r.user_typed'),
                 )})
  from ${relations} r join pg_policy p on p.polrelid = r.oid and p.polname not like 'janua\_%'
`,
    String.raw`
select r.nsoid, 'grant', r.relname::text || ' to ' || case when g.grantee = 0 then 'public' else pg_get_userbyid(g.grantee) end,
       string_agg(g.privilege_type || case when g.is_grantable then ' with grant option' else '' end, ',' order by g.privilege_type)
  from ${relations} r cross join lateral aclexplode(r.relacl) g
 where g.grantee <> r.relowner
   -- the tenant login roles' group (janua_<cp>_tenants) holds copies of the app role's grants: not the templates' to compare
   and pg_get_userbyid(g.grantee) !~ '${TENANT_ROLE_PATTERN}'
 group by r.nsoid, r.oid, r.relname, g.grantee
`,
    // column grants: rows of their own in the readable catalog, part of each column's row in fingerprints
    ...(detail
      ? [
          String.raw`
select r.nsoid, 'grant', r.relname::text || '(' || a.attname::text || ') to ' || case when g.grantee = 0 then 'public' else pg_get_userbyid(g.grantee) end,
       string_agg(g.privilege_type, ',' order by g.privilege_type)
  from rel r join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and a.attacl is not null cross join lateral aclexplode(a.attacl) g
 where pg_get_userbyid(g.grantee) !~ '${TENANT_ROLE_PATTERN}'
 group by r.nsoid, r.oid, r.relname, a.attname, g.grantee
`,
        ]
      : []),
    String.raw`
select f.nsoid, 'grant', 'function ' || f.signature || ' to ' || case when g.grantee = 0 then 'public' else pg_get_userbyid(g.grantee) end,
       string_agg(g.privilege_type, ',' order by g.privilege_type)
  from fn f cross join lateral aclexplode(f.proacl) g
 where g.grantee <> f.proowner
 group by f.nsoid, f.oid, f.signature, g.grantee
`,
    String.raw`
select t.nsoid, 'grant', 'type ' || t.typname || ' to ' || case when g.grantee = 0 then 'public' else pg_get_userbyid(g.grantee) end,
       string_agg(g.privilege_type, ',' order by g.privilege_type)
  from typ t cross join lateral aclexplode(t.typacl) g
 where g.grantee <> (select typowner from pg_type where oid = t.oid)
 group by t.nsoid, t.oid, t.typname, g.grantee
`,
    String.raw`
select f.nsoid, 'function', f.signature,
       concat_ws(' ', case f.prokind when 'f' then 'function' when 'p' then 'procedure' when 'a' then 'aggregate' else 'window' end,
                 'returns ' || ${strip('pg_get_function_result(f.oid)', 'f.prefix_re')},
                 'language ' || (select lanname from pg_language l where l.oid = f.prolang),
                 'volatility=' || f.provolatile::text, 'strict=' || f.proisstrict, 'security-definer=' || f.prosecdef, 'leakproof=' || f.proleakproof,
                 'parallel=' || f.proparallel::text,
                 -- "set search_path from current" records the placement's schema by name
                 'config=' || (select string_agg(case when c like 'search_path=%' then 'search_path=' || (
                                   select string_agg(case when btrim(e) in (f.nspname, quote_ident(f.nspname), '"' || replace(f.nspname, '"', '""') || '"') then '${PLACEMENT_TOKEN}' else btrim(e) end, ', ' order by o)
                                     from unnest(string_to_array(substr(c, 13), ',')) with ordinality u(e, o)) else c end, ',' order by n)
                                 from unnest(f.proconfig) with ordinality x(c, n)),
                 'body=' || case when f.sql_body then md5(regexp_replace(pg_get_functiondef(f.oid), f.prefix_re, '\1', 'g')) else md5(f.prosrc) end)
  from fn f
`,
    String.raw`
select r.nsoid, 'trigger', r.relname::text || '.' || t.tgname::text,
       ${strip('pg_get_triggerdef(t.oid)', 'r.prefix_re')} || ' enabled=' || t.tgenabled::text
  from ${relations} r join pg_trigger t on t.tgrelid = r.oid and not t.tgisinternal and t.tgname not like 'janua\_%'
`,
    String.raw`
select t.nsoid, 'type', t.typname,
       case t.typtype
         when 'e' then 'enum (' || (select string_agg(quote_literal(enumlabel), ', ' order by enumsortorder) from pg_enum where enumtypid = t.oid) || ')'
         when 'd' then concat_ws(' ', 'domain over ' || ${strip('format_type(t.typbasetype, t.typtypmod)', 't.prefix_re')}, case when t.typnotnull then 'not null' end,
                                 case when t.typcollation <> 0 and t.typcollation <> (select b.typcollation from pg_type b where b.oid = t.typbasetype)
                                   then 'collate ' || ${strip('t.typcollation::regcollation::text', 't.prefix_re')} end,
                                 'default ' || ${strip('t.typdefault', 't.prefix_re')})
         when 'c' then 'composite (' || (select string_agg(quote_ident(a.attname) || ' ' || ${strip('format_type(a.atttypid, a.atttypmod)', 't.prefix_re')}, ', ' order by a.attnum)
                                          from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped) || ')'
         else (select concat_ws(' ', 'range of ' || ${strip('format_type(rg.rngsubtype, null)', 't.prefix_re')}, 'opclass=' || oc.opcname,
                                case when rg.rngcollation <> 0 then 'collate ' || ${strip('rg.rngcollation::regcollation::text', 't.prefix_re')} end,
                                case when rg.rngcanonical <> 0 then 'canonical=' || ${strip('rg.rngcanonical::regproc::text', 't.prefix_re')} end,
                                case when rg.rngsubdiff <> 0 then 'subdiff=' || ${strip('rg.rngsubdiff::regproc::text', 't.prefix_re')} end)
                 from pg_range rg join pg_opclass oc on oc.oid = rg.rngsubopc where rg.rngtypid = t.oid)
       end
  from typ t
`,
    String.raw`
select ns.oid, 'collation', c.collname,
       (to_jsonb(c) - 'oid' - 'collname' - 'collnamespace' - 'collowner' - 'collversion')::text
  from ${inSchemas('pg_collation', 'c', 'collnamespace')}
`,
    // Comments start from the schema's objects and probe pg_description by its (objoid, classoid)
    // index, one object at a time (a lateral subquery: offset 0 keeps it one): a comment branch led
    // by pg_description read every comment of the database (3,148 relation comments and 13,700
    // pg_class probes to fingerprint one schema among 4,000: 155 ms of `db verify --tenant` at 1,000
    // schemas, 416 ms at 10,000).
    ...[
      // relations, their columns, indexes and composite types: every pg_class object of the schema
      { from: `${relations} r`, rel: 'r' },
      { from: `${relations} r join pg_index x on x.indrelid = r.oid join pg_class i on i.oid = x.indexrelid`, rel: 'i' },
      { from: `typ t join pg_class tc on tc.oid = t.typrelid`, rel: 'tc', nsoid: 't.nsoid' },
    ].map(
      (c) => String.raw`
select ${c.nsoid ?? 'r.nsoid'}, 'comment', case when d.objsubid = 0 then 'relation ' || ${c.rel}.relname::text
                                   else 'column ' || ${c.rel}.relname::text || '.' || (select a.attname::text from pg_attribute a where a.attrelid = ${c.rel}.oid and a.attnum = d.objsubid) end,
       d.description
  from ${c.from}
 cross join lateral (select d.objsubid, d.description from pg_description d where d.objoid = ${c.rel}.oid and d.classoid = 'pg_class'::regclass offset 0) d
`,
    ),
    ...[
      { owner: 'f.nsoid', key: `'function ' || f.signature`, from: 'fn f', oid: 'f.oid', catalog: 'pg_proc' },
      { owner: 't.nsoid', key: `'type ' || t.typname`, from: 'typ t', oid: 't.oid', catalog: 'pg_type' },
      {
        owner: 'r.nsoid',
        key: `'constraint ' || r.relname::text || '.' || con.conname::text`,
        from: `${relations} r join pg_constraint con on con.conrelid = r.oid`,
        oid: 'con.oid',
        catalog: 'pg_constraint',
      },
      {
        owner: 't.nsoid',
        key: `'constraint ' || t.typname::text || '.' || con.conname::text`,
        from: 'typ t join pg_constraint con on con.contypid = t.oid',
        oid: 'con.oid',
        catalog: 'pg_constraint',
      },
      {
        owner: 'r.nsoid',
        key: `'trigger ' || r.relname::text || '.' || tg.tgname::text`,
        from: `${relations} r join pg_trigger tg on tg.tgrelid = r.oid`,
        oid: 'tg.oid',
        catalog: 'pg_trigger',
      },
      {
        owner: 'r.nsoid',
        key: `'policy ' || r.relname::text || '.' || p.polname::text`,
        from: `${relations} r join pg_policy p on p.polrelid = r.oid`,
        oid: 'p.oid',
        catalog: 'pg_policy',
      },
    ].map(
      (c) => String.raw`
select ${c.owner}, 'comment', ${c.key}, d.description
  from ${c.from}
 cross join lateral (select d.description from pg_description d where d.objoid = ${c.oid} and d.classoid = '${c.catalog}'::regclass and d.objsubid = 0 offset 0) d
`,
    ),
  ]
  return { ctes, branches }
}

const DETAIL = objectQueries('detail')
const DETAIL_SQL = `${DETAIL.ctes(false)}\n${DETAIL.branches.join('\nunion all\n')}`

/**
 * A schema's fingerprint: its number of objects and two sums of 64-bit hashes (two seeds) of its
 * objects' rows, so equal fingerprints mean equal catalogs. Order-independent on purpose: an md5
 * over the rows sorted by kind and key made the server sort every row of every schema of the
 * query (an external sort of ~300 MB for 3,000 schemas). hashtextextended is what hash
 * partitioning stores by, so it is stable across versions.
 *
 * The sums are taken per branch of the union and added up here; the planner then plans each branch
 * on its own, with nested loops over the catalog indexes (see withSettings). Measured against one
 * sum over one union read with hash joins over whole catalogs (jit off, docs/design.md): 1,000
 * schemas of 1,000 2.9-3.7 s -> 2.1-2.4 s; 2,000 of 10,000 16-20 s -> 5.1 s; 10,000 of 10,000
 * 47 s -> 21 s. A row's text is made once (offset 0 keeps the planner from copying its
 * expression into both hashes). Rows are grouped by the schema's OID, not its name (names that
 * share their first 8 bytes, such as tenant_..., defeat a text sort's abbreviated keys).
 */
const FINGERPRINT = objectQueries('fingerprint')
const startsFromRelations = (branch: string) => /\bfrom urel\b/.test(branch)
/** An object row's text, the one both hashes are taken of. */
const ROW_TEXT = `(o.kind || ':' || o.key || '=' || coalesce(o.descr, '')) collate "C"`
const summed = (branches: string[]) => `select (select nspname from pg_namespace where oid = schema)::text as schema, count(*)::text as n, sum(h0)::text as h0, sum(h1)::text as h1
  from (select schema, hashtextextended(t, 0) as h0, hashtextextended(t, 1) as h1
          from (select o.schema, ${ROW_TEXT} as t from (${branches.join('\nunion all\n')}) o(schema, kind, key, descr) offset 0) x
        offset 0) h
 group by schema`
/**
 * The branches that start from the relations, summed for each relation on its own (a lateral
 * subquery over the relations, read once), then by schema: grouping every row of 500 schemas by
 * schema sorted them all (327,500 rows, 35 MB of memory for the default templates, more than the
 * catalog work_mem for templates a few times larger); per relation there is nothing to sort. The
 * sums are the same numbers either way. Measured on 500 schemas of the default templates: 10%
 * faster on a session that has read the catalog before, 3% on a new one (docs/design.md).
 */
const OF_ONE_RELATION = objectQueries('fingerprint', '(select r0.*)').branches.filter((_, i) => startsFromRelations(FINGERPRINT.branches[i]!))
const summedByRelation = `select (select nspname from pg_namespace where oid = r0.nsoid)::text as schema, sum(s.n)::text as n, sum(s.h0)::text as h0, sum(s.h1)::text as h1
  from urel r0 cross join lateral (
    select count(*) as n, sum(hashtextextended(t, 0)) as h0, sum(hashtextextended(t, 1)) as h1
      from (select ${ROW_TEXT} as t
              from (${OF_ONE_RELATION.join('\nunion all\n')}) o(schema, kind, key, descr) offset 0) x
  ) s
 group by r0.nsoid`
const FINGERPRINT_SQL = {
  many: `${FINGERPRINT.ctes(true)}
${[`(${summedByRelation})`, ...FINGERPRINT.branches.filter((b) => !startsFromRelations(b)).map((b) => `(${summed([b])})`)].join('\nunion all\n')}`,
  /** a handful of schemas (--tenant): one sum over the whole union, its CTEs shared, plans in a third of the time (7 ms against 17) */
  few: `${FINGERPRINT.ctes(false)}\n${summed(FINGERPRINT.branches)}`,
}
const FEW_SCHEMAS = 8
/** Changes whenever what a catalog row holds, or how a fingerprint is made of them, changes: part of both caches' keys. */
export const CATALOG_FORMAT = createHash('sha256')
  .update(DETAIL_SQL)
  .update(FINGERPRINT_SQL.many)
  .update(FINGERPRINT_SQL.few)
  .update('md5(count:sum0:sum1)')
  .digest('hex')
  .slice(0, 16)

/**
 * Runs fn with settings of its own: the search_path decides how the deparsers qualify names;
 * nested loops over the catalog indexes, never hash joins over whole catalogs (the planner cannot
 * tell how few rows the listed schemas hold: one schema among a thousand took 200 ms instead of
 * 60); memory enough to group a part's rows without a sort on disk. (enable_sort off made the
 * fingerprint parts group by hashing, 10-16% faster, but gave a plan of 75 s instead of 0.5 s for
 * eleven small schemas: not worth the risk.) In the caller's transaction (restored after), or in
 * a read-only transaction of its own.
 */
async function withSettings<T>(client: pg.ClientBase, searchPath: string, inTransaction: boolean, fn: () => Promise<T>): Promise<T> {
  const settings: Record<string, string> = { search_path: searchPath, enable_hashjoin: 'off', enable_mergejoin: 'off', work_mem: CATALOG_WORK_MEM }
  const names = Object.keys(settings)
  const apply = (values: string[]) =>
    client.query(
      `select ${names.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ')}`,
      names.flatMap((n, i) => [n, values[i]!]),
    )
  if (!inTransaction) {
    await client.query('begin read only')
    try {
      await apply(Object.values(settings))
      return await fn()
    } finally {
      await client.query('rollback')
    }
  }
  const { rows } = await client.query<{ values: string[] }>(`select array[${names.map((_, i) => `current_setting($${i + 1})`).join(', ')}] as values`, names)
  await apply(Object.values(settings))
  const result = await fn()
  await apply(rows[0]!.values)
  return result
}
const CATALOG_WORK_MEM = '64MB'

/** Fingerprints are read with the schemas off the search_path, so every schema's texts are qualified alike. */
const FINGERPRINT_SEARCH_PATH = 'pg_catalog'

export async function fingerprints(client: pg.ClientBase, schemas: string[], appRole: string, options: { inTransaction?: boolean } = {}): Promise<Map<string, string>> {
  const { rows } = await withSettings(client, FINGERPRINT_SEARCH_PATH, options.inTransaction ?? false, () =>
    client.query<{ schema: string; n: string; h0: string; h1: string }>(schemas.length <= FEW_SCHEMAS ? FINGERPRINT_SQL.few : FINGERPRINT_SQL.many, [schemas, appRole]),
  )
  const sums = new Map<string, { n: bigint; h0: bigint; h1: bigint }>()
  for (const r of rows) {
    const sum = sums.get(r.schema) ?? { n: 0n, h0: 0n, h1: 0n }
    sums.set(r.schema, { n: sum.n + BigInt(r.n), h0: sum.h0 + BigInt(r.h0), h1: sum.h1 + BigInt(r.h1) })
  }
  return new Map([...sums].map(([schema, s]) => [schema, createHash('md5').update(`${s.n}:${s.h0}:${s.h1}`).digest('hex')]))
}

/**
 * The readable catalog of each schema, read one at a time with search_path set to the schema
 * (and the extensions schema), so that the deparsers print its objects' names unqualified. In the
 * caller's transaction when the schema only exists there.
 */
export async function catalogs(client: pg.ClientBase, schemas: string[], appRole: string, options: { inTransaction?: boolean } = {}): Promise<Map<string, Catalog>> {
  const result = new Map<string, Catalog>()
  for (const schema of schemas) {
    const catalog: Catalog = new Map()
    const { rows } = await withSettings(client, `${quoteIdent(schema)}, ${EXTENSIONS_SCHEMA}`, options.inTransaction ?? false, () =>
      client.query<CatalogObject>(DETAIL_SQL, [[schema], appRole]),
    )
    for (const row of rows) catalog.set(objectId(row), { kind: row.kind, key: row.key, descr: row.descr ?? '' })
    result.set(schema, catalog)
  }
  return result
}

/**
 * The fingerprints of a database's schemas. Five hundred schemas in one query keep one backend
 * (one core) busy for about a second: above SCHEMAS_PER_QUERY they are read in slices of that
 * size, on up to CATALOG_SESSIONS connections of the pool at once, so the server's cores share the work
 * (measured: figures in docs/design.md) and no query holds the rows of thousands of schemas.
 */
export async function fingerprintsInParts(
  client: pg.ClientBase,
  pool: pg.Pool | undefined,
  schemas: string[],
  appRole: string,
  schemasPerQuery = SCHEMAS_PER_QUERY,
): Promise<Map<string, string>> {
  const slices = Array.from({ length: Math.ceil(schemas.length / schemasPerQuery) }, (_, i) => schemas.slice(i * schemasPerQuery, (i + 1) * schemasPerQuery))
  if (!pool || slices.length <= 1) return fingerprints(client, schemas, appRole)
  const result = new Map<string, string>()
  await shareOut(client, pool, CATALOG_SESSIONS, slices, async (session, slice) => {
    for (const [schema, print] of await fingerprints(session, slice, appRole)) result.set(schema, print)
  })
  return result
}
const SCHEMAS_PER_QUERY = 500

/**
 * Catalogs whose rows never decide a fingerprint and change without DDL (statistics, large
 * objects, subscription sync state): left out of the catalog token so that ANALYZE or lo_create
 * does not invalidate cached fingerprints.
 */
const UNTRACKED_CATALOGS = ['pg_statistic', 'pg_statistic_ext_data', 'pg_largeobject', 'pg_largeobject_metadata', 'pg_subscription_rel']

/**
 * A token of everything the fingerprints of this database's schemas can depend on: the raw xmin
 * of every row of every per-database catalog, and the roles (names, superuser, inherit,
 * bypassrls) with their memberships. Any DDL, GRANT, COMMENT or rename anywhere in the database
 * writes a catalog row version with a new transaction id (PostgreSQL updates catalog rows in
 * place only for statistics-like fields such as relpages or relfrozenxid, which no fingerprint
 * reads; freezing keeps the raw xmin), and a transaction that was not visible to the snapshot
 * that read the old rows cannot have written any of them: so a changed catalog always changes the
 * multiset of xmins, and the order-independent sum of their 64-bit hashes with it. An unchanged
 * token therefore means unchanged fingerprints; a changed one (any DDL, even a temporary table)
 * only costs a recomputation. Read-only, one pass over each catalog (no joins).
 */
export async function catalogToken(client: pg.ClientBase, pool?: pg.Pool, partsFromPages = TOKEN_PARTS_FROM_PAGES): Promise<string> {
  const { rows: catalogList } = await client.query<{ name: string; pages: number }>(
    `select c.relname::text as name, c.relpages as pages from pg_class c
      where c.relnamespace = 'pg_catalog'::regnamespace and c.relkind = 'r' and not c.relisshared and c.relname <> all($1::text[])
      order by 1`,
    [UNTRACKED_CATALOGS],
  )
  // Each catalog's sum is read on its own and the parts are joined in name order, so the token
  // does not depend on how the catalogs were shared out. A part may be read at a later moment
  // than another: each catalog's sum still stands for that catalog as it was before the
  // fingerprints were read (a change in between only causes another read).
  const sumOf = (name: string) =>
    `select ${literal(name)}::text as name, count(*)::text || '/' || coalesce(sum(hashint8extended(xmin::text::bigint, 0)), 0)::text as t from pg_catalog.${quoteIdent(name)}`
  const rolesSql = `select concat_ws(';', (select oid from pg_database where datname = current_database()),
        (select md5(string_agg(concat_ws(':', oid, rolname, rolsuper, rolinherit, rolbypassrls), ',' order by oid)) from pg_roles),
        (select count(*)::text || '/' || coalesce(sum(hashint8extended(xmin::text::bigint, 0)), 0)::text from pg_auth_members)) as t`
  // The catalogs shared out by size (pg_attribute and pg_depend are most of it) over up to CATALOG_SESSIONS connections.
  const connections = pool && catalogList.reduce((n, c) => n + c.pages, 0) >= partsFromPages ? CATALOG_SESSIONS : 1
  const shares: string[][] = Array.from({ length: connections }, () => [])
  const load = shares.map(() => 0)
  for (const c of [...catalogList].sort((a, b) => b.pages - a.pages)) {
    const least = load.indexOf(Math.min(...load))
    shares[least]!.push(c.name)
    load[least]! += Math.max(1, c.pages)
  }
  const sums = new Map<string, string>()
  const [roles] = await Promise.all([
    client.query<{ t: string }>(rolesSql).then((r) => r.rows[0]!.t),
    shareOut(client, pool, connections, shares, async (session, names) => {
      // Without parallel workers: each is a new backend that maps every shared buffer it touches
      // (minor faults) on each query; the sessions are the parallelism. 1,000 schemas: 0.63-0.70 s
      // against 0.77-0.82 s. SET LOCAL holds for the query string (one implicit transaction).
      const results = (await session.query(`set local max_parallel_workers_per_gather = 0;\n${names.map(sumOf).join('\nunion all\n')}`)) as unknown as pg.QueryResult<{
        name: string
        t: string
      }>[]
      for (const r of results[1]!.rows) sums.set(r.name, r.t)
    }),
  ])
  return createHash('sha256')
    .update([roles, ...catalogList.map((c) => sums.get(c.name)!)].join(';'))
    .digest('hex')
}
/** Below this many pages of catalogs (16 MB: a few dozen schemas of the default templates) the token is one query on one connection. */
const TOKEN_PARTS_FROM_PAGES = 2000
