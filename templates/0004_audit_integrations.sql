-- 0004_audit_integrations: API keys, audit logs, integrations, analytics events, and a few
-- additions to earlier tables. Same conventions as 0001 (header there).

-- API keys ---------------------------------------------------------------------------------------
-- The key shown once to the user is "<prefix>.<secret>": the prefix is public and indexed for
-- lookup, only a hash of the whole key is stored.

create table api_keys (
  id           uuid        not null default gen_random_uuid(),
  tenant_id    uuid        not null,
  user_id      uuid,                                      -- null for service keys
  team_id      uuid,
  name         text        not null,
  prefix       text        not null check (prefix ~ '^[A-Za-z0-9_]{6,32}$'),
  key_hash     bytea       not null,
  scopes       jsonb       not null default '[]'::jsonb,
  expires_at   timestamptz,
  last_used_at timestamptz,
  revoked_at   timestamptz,
  created_at   timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  unique (tenant_id, prefix),
  unique (tenant_id, key_hash),
  foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade,
  foreign key (tenant_id, team_id) references teams (tenant_id, id) on delete cascade,
  check (jsonb_typeof(scopes) = 'array')
);

create index api_keys_tenant_user_idx on api_keys (tenant_id, user_id);
create index api_keys_tenant_team_idx on api_keys (tenant_id, team_id);

-- Audit logs -------------------------------------------------------------------------------------
-- Append-only: the app role may only INSERT and SELECT (grants below). No foreign keys on
-- purpose: an audit entry must outlive the user, session or key it mentions.

create table audit_logs (
  id            uuid        not null default gen_random_uuid(),
  tenant_id     uuid        not null,
  occurred_at   timestamptz not null default now(),
  actor_type    text        not null check (actor_type in ('user', 'api_key', 'service', 'system')),
  actor_id      uuid,
  action        text        not null,                       -- e.g. 'user.login', 'role.assign'
  resource_type text,
  resource_id   text,
  outcome       text        not null check (outcome in ('success', 'failure', 'denied', 'error')),
  risk_score    smallint    not null default 0 check (risk_score between 0 and 100),
  request_id    text,                                     -- correlation with application logs
  session_id    uuid,
  ip_address    inet,
  user_agent    text,
  metadata      jsonb       not null default '{}'::jsonb,
  created_at    timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id)
);

create index audit_logs_tenant_occurred_idx on audit_logs (tenant_id, occurred_at);
create index audit_logs_tenant_actor_idx on audit_logs (tenant_id, actor_type, actor_id, occurred_at);
create index audit_logs_tenant_request_idx on audit_logs (tenant_id, request_id);
create index audit_logs_tenant_session_idx on audit_logs (tenant_id, session_id);
create index audit_logs_tenant_risky_idx on audit_logs (tenant_id, occurred_at) where risk_score >= 70;

-- Integrations -----------------------------------------------------------------------------------

create table integrations (
  id                    uuid        not null default gen_random_uuid(),
  tenant_id             uuid        not null,
  provider              text        not null,             -- e.g. 'slack', 'github', 'okta'
  name                  text        not null,
  status                text        not null default 'active'
                        check (status in ('pending', 'active', 'paused', 'error', 'disconnected')),
  -- OAuth tokens / API secrets, encrypted by the application (never plaintext in the database)
  credentials_encrypted bytea,
  config                jsonb       not null default '{}'::jsonb,
  -- provider cursor / checkpoint, e.g. {"cursor": "...", "page": 3}
  sync_state            jsonb       not null default '{}'::jsonb,
  sync_status           text        not null default 'idle'
                        check (sync_status in ('idle', 'queued', 'running', 'succeeded', 'failed')),
  last_synced_at        timestamptz,
  last_error            text,
  installed_by          uuid,
  created_at            timestamptz not null default now(),
  updated_at            timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  unique (tenant_id, provider, name),
  foreign key (tenant_id, installed_by) references users (tenant_id, id) on delete set null (installed_by)
);

create index integrations_tenant_installed_by_idx on integrations (tenant_id, installed_by);
create index integrations_tenant_sync_idx on integrations (tenant_id, sync_status, last_synced_at);

-- Analytics events -------------------------------------------------------------------------------
-- High-volume and append-mostly: no foreign keys (cheap ingest; events survive user erasure, the
-- application scrubs properties). seq: see usage_records in 0003.

create table analytics_events (
  id          uuid        not null default gen_random_uuid(),
  seq         bigint      not null generated by default as identity,
  tenant_id   uuid        not null,
  event_name  text        not null,
  user_id     uuid,
  session_id  uuid,
  anonymous_id text,
  properties  jsonb       not null default '{}'::jsonb,
  occurred_at timestamptz not null default now(),
  received_at timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id)
);

create index analytics_events_tenant_name_idx on analytics_events (tenant_id, event_name, occurred_at);
create index analytics_events_tenant_user_idx on analytics_events (tenant_id, user_id, occurred_at);
create index analytics_events_tenant_seq_idx on analytics_events (tenant_id, seq);

-- History: additions to earlier tables -----------------------------------------------------------

-- refresh-token reuse detection revokes a whole family at once
create index sessions_tenant_family_idx on sessions (tenant_id, refresh_token_family);
-- sessions record the step-up MFA that authenticated them
alter table sessions add column mfa_method_id uuid;
alter table sessions add foreign key (tenant_id, mfa_method_id)
  references mfa_methods (tenant_id, id) on delete set null (mfa_method_id);
create index sessions_tenant_mfa_method_idx on sessions (tenant_id, mfa_method_id);

alter table users add column last_login_at timestamptz;
create index users_tenant_last_login_idx on users (tenant_id, last_login_at);

-- Row-level security and grants ------------------------------------------------------------------

alter table api_keys enable row level security;
alter table api_keys force row level security;
create policy tenant_isolation on api_keys for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table audit_logs enable row level security;
alter table audit_logs force row level security;
create policy tenant_isolation on audit_logs for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table integrations enable row level security;
alter table integrations force row level security;
create policy tenant_isolation on integrations for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table analytics_events enable row level security;
alter table analytics_events force row level security;
create policy tenant_isolation on analytics_events for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

grant select, insert, update, delete on api_keys to janua_app;
grant select, insert on audit_logs to janua_app;            -- append-only for the app
grant select, insert, update, delete on integrations to janua_app;
grant select, insert, update, delete on analytics_events to janua_app;
