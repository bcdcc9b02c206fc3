/**
 * The control plane's own schema, as ordered steps. janua.meta.schema_version records the last
 * step applied; steps are append-only, like templates.
 */
export const CONTROL_PLANE_STEPS: string[] = [
  `create schema if not exists janua;
   create table janua.meta (key text primary key, value text not null);
   create table janua.servers (
     name text primary key,
     url text,
     url_env text,
     password text,
     added_at timestamptz not null default now()
   );
   create table janua.placements (
     id bigserial primary key,
     server text not null references janua.servers (name),
     database text not null,
     schema text not null,
     kind text not null check (kind in ('shared', 'schema', 'database')),
     version integer not null default 0,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     unique (server, database, schema)
   );
   create table janua.tenants (
     id uuid primary key default gen_random_uuid(),
     slug text not null unique check (slug ~ '^[a-z][a-z0-9-]{0,39}$'),
     name text not null,
     status text not null check (status in ('provisioning', 'active', 'moving', 'dropping')),
     isolation text not null check (isolation in ('shared', 'schema', 'database')),
     placement_id bigint not null references janua.placements (id),
     domain text,
     plan text,
     billing_email text,
     features jsonb not null default '{}',
     settings jsonb not null default '{}',
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now()
   );
   create index on janua.tenants (placement_id);
   create table janua.operations (
     id bigserial primary key,
     run_id uuid,
     kind text not null,
     tenant_id uuid,
     tenant_slug text,
     placement_id bigint,
     status text not null check (status in ('running', 'succeeded', 'failed', 'aborted')),
     step text,
     detail jsonb not null default '{}',
     error text,
     started_at timestamptz not null default now(),
     finished_at timestamptz,
     pid integer,
     host text
   );
   create index on janua.operations (tenant_id, started_at desc);
   create index on janua.operations (run_id);
   create index on janua.operations (status) where status = 'running';
   create table janua.audit_log (
     id bigserial primary key,
     at timestamptz not null default now(),
     actor text not null,
     db_user text,
     command text not null,
     args jsonb not null default '[]',
     exit_code integer not null,
     error text,
     duration_ms integer not null
   );
   revoke all on schema janua from public;`,
  // 2: servers are identified by their cluster; leftovers of aborted moves and kept sources are recorded.
  `alter table janua.servers
     add column system_identifier text,
     add column port integer,
     add column maintenance_database text,
     add column server_version_num integer;
   create table janua.leftovers (
     id bigserial primary key,
     tenant_id uuid,
     tenant_slug text,
     operation_id bigint,
     kind text not null check (kind in ('move-target', 'kept-source')),
     server text not null,
     database text not null,
     schema text not null,
     what text not null check (what in ('database', 'schema', 'rows')),
     detail jsonb not null default '{}',
     error text,
     created_at timestamptz not null default now()
   );
   create index on janua.leftovers (tenant_id);
   create index on janua.leftovers (server);`,
  // 3: verify's expected catalogs, cached by template files, server major version, app role and catalog format.
  `create table janua.expected_catalogs (
     key text primary key,
     server_major integer not null,
     version integer not null,
     fingerprint text not null,
     catalog jsonb not null,
     lint jsonb not null,
     created_at timestamptz not null default now()
   );`,
  // (lifecycle): commercial status, plan limits and a suspension (reason, mode, when, the status before it) on each tenant.
  `alter table janua.tenants
     add column if not exists commercial_status text not null default 'active' check (commercial_status in ('trial', 'active', 'suspended', 'cancelled')),
     add column if not exists limits jsonb not null default '{}',
     add column if not exists suspension jsonb;
   create index if not exists tenants_commercial_status on janua.tenants (commercial_status);`,
  // (tenant access, after the lifecycle columns it returns) per-tenant data keys (only wrapped), per-tenant login roles' rotation state, unique domains,
  // the servers' host for the directory, and janua.resolve_tenant: the one read of the control plane the app role may make.
  `create unique index if not exists tenants_domain_key on janua.tenants (domain);
   create table janua.tenant_keys (
     tenant_id uuid not null references janua.tenants (id) on delete cascade,
     version integer not null check (version > 0),
     wrapped text not null,
     created_at timestamptz not null default now(),
     primary key (tenant_id, version)
   );
   create table janua.tenant_credentials (
     tenant_id uuid primary key references janua.tenants (id) on delete cascade,
     server text not null,
     current text not null check (current in ('a', 'b')),
     rotated_at timestamptz not null default now()
   );
   alter table janua.servers add column if not exists host text;
   create function janua.resolve_tenant(slug_or_domain text)
     returns table (id uuid, slug text, status text, isolation text, server text, host text, port integer, database text, schema text,
                    commercial_status text, suspended text)
     language sql stable security definer set search_path = pg_catalog, pg_temp
   as $fn$
     select t.id, t.slug, t.status, t.isolation, p.server,
            coalesce(s.host, substring(s.url from '^[a-z]+://(?:[^@/]*@)?([^:/?]+)')), s.port, p.database, p.schema,
            t.commercial_status, t.suspension ->> 'mode'
       from janua.tenants t
       join janua.placements p on p.id = t.placement_id
       left join janua.servers s on s.name = p.server
      where t.slug = slug_or_domain or t.domain = lower(slug_or_domain)
   $fn$;
   revoke all on function janua.resolve_tenant(text) from public;`,
  // 6: verify's fingerprints kept per schema with their database's catalog token (src/core/fingerprint-cache.ts).
  `create table janua.schema_fingerprints (
     server text not null,
     database text not null,
     schema text not null,
     token text not null,
     fingerprint text not null,
     read_at timestamptz not null default now(),
     primary key (server, database, schema)
   );`,
]
