-- 0001_identity: users, sessions, session anomaly reports, MFA methods, passkeys.
--
-- Conventions shared by every template (see DESIGN.md, "One template set, three placements"):
--   * names are unqualified: janua runs this file with search_path set to the placement's schema;
--   * janua wraps the file in a transaction: no BEGIN/COMMIT here;
--   * every tenant table has tenant_id uuid not null, a uuid primary key (id), unique (tenant_id, id),
--     composite foreign keys (tenant_id, x_id), indexes leading with tenant_id, RLS enabled and
--     forced, and one policy "tenant_isolation";
--   * an unset tenant (app.current_tenant = '') sees no rows: nullif(..., '')::uuid is NULL;
--   * no triggers: a tenant move copies rows verbatim and compares checksums, so nothing may
--     rewrite a row on insert (updated_at is maintained by the application).

-- Users ------------------------------------------------------------------------------------------

create table users (
  id              uuid        not null default gen_random_uuid(),
  tenant_id       uuid        not null,
  email           text        not null,
  display_name    text,
  status          text        not null default 'active'
                  check (status in ('invited', 'active', 'suspended', 'disabled')),
  -- coarse tenant-level role; fine-grained rights come from roles / role_assignments (0002)
  role            text        not null default 'member',
  -- direct grants on top of roles, e.g. {"billing:read": true}
  permissions     jsonb       not null default '{}'::jsonb,
  password_hash   text,
  email_verified_at timestamptz,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now(),
  deleted_at      timestamptz,          -- soft delete
  primary key (id),
  unique (tenant_id, id),
  check (jsonb_typeof(permissions) = 'object')
);

-- One live account per email and tenant, case-insensitively; a soft-deleted user does not
-- block signing up again with the same address.
create unique index users_tenant_email_key on users (tenant_id, lower(email)) where deleted_at is null;
create index users_tenant_status_idx on users (tenant_id, status);

-- Sessions ---------------------------------------------------------------------------------------

create table sessions (
  id                   uuid        not null default gen_random_uuid(),
  tenant_id            uuid        not null,
  user_id              uuid        not null,
  -- refresh-token rotation: every rotation keeps the family; reuse of an old token revokes it
  refresh_token_family uuid        not null default gen_random_uuid(),
  refresh_token_hash   bytea       not null,
  generation           integer     not null default 0 check (generation >= 0),
  device_fingerprint   text,
  user_agent           text,
  ip_address           inet,
  location             jsonb       not null default '{}'::jsonb,  -- {"country": "MX", "city": ...}
  risk_score           smallint    not null default 0 check (risk_score between 0 and 100),
  created_at           timestamptz not null default now(),
  last_seen_at         timestamptz not null default now(),
  expires_at           timestamptz not null,
  revoked_at           timestamptz,
  revoked_reason       text,
  primary key (id),
  unique (tenant_id, id),
  unique (tenant_id, refresh_token_hash),
  foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);

-- Active sessions only: "log out everywhere" and the session list read these.
create index sessions_tenant_user_active_idx on sessions (tenant_id, user_id) where revoked_at is null;

create table session_anomaly_reports (
  id           uuid        not null default gen_random_uuid(),
  tenant_id    uuid        not null,
  session_id   uuid        not null,
  user_id      uuid        not null,
  kind         text        not null
               check (kind in ('impossible_travel', 'new_device', 'new_location', 'token_reuse',
                               'ip_reputation', 'unusual_time', 'other')),
  severity     text        not null default 'medium'
               check (severity in ('low', 'medium', 'high', 'critical')),
  risk_score   smallint    not null default 0 check (risk_score between 0 and 100),
  details      jsonb       not null default '{}'::jsonb,
  detected_at  timestamptz not null default now(),
  resolved_at  timestamptz,
  resolved_by  uuid,
  created_at   timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  foreign key (tenant_id, session_id) references sessions (tenant_id, id) on delete cascade,
  foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade,
  foreign key (tenant_id, resolved_by) references users (tenant_id, id) on delete set null (resolved_by)
);

create index session_anomaly_reports_tenant_session_idx on session_anomaly_reports (tenant_id, session_id);
create index session_anomaly_reports_tenant_user_idx on session_anomaly_reports (tenant_id, user_id, detected_at);
create index session_anomaly_reports_tenant_resolved_by_idx on session_anomaly_reports (tenant_id, resolved_by);

-- MFA methods ------------------------------------------------------------------------------------

create table mfa_methods (
  id               uuid        not null default gen_random_uuid(),
  tenant_id        uuid        not null,
  user_id          uuid        not null,
  kind             text        not null check (kind in ('totp', 'sms', 'email', 'webauthn', 'hardware')),
  label            text,
  -- TOTP seed / OTP destination etc., encrypted by the application (envelope encryption);
  -- the database never sees the plaintext, hence bytea and no pgcrypto.
  secret_encrypted bytea,
  is_primary       boolean     not null default false,
  verified_at      timestamptz,
  last_used_at     timestamptz,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);

create index mfa_methods_tenant_user_idx on mfa_methods (tenant_id, user_id);
-- at most one primary method per user
create unique index mfa_methods_tenant_user_primary_key on mfa_methods (tenant_id, user_id) where is_primary;

-- Passkeys (WebAuthn credentials) ----------------------------------------------------------------

create table passkeys (
  id              uuid        not null default gen_random_uuid(),
  tenant_id       uuid        not null,
  user_id         uuid        not null,
  credential_id   bytea       not null,
  public_key      bytea       not null,       -- COSE-encoded
  sign_count      bigint      not null default 0 check (sign_count >= 0),
  aaguid          uuid,
  transports      text[]      not null default '{}',
  backup_eligible boolean     not null default false,
  backup_state    boolean     not null default false,
  name            text,
  last_used_at    timestamptz,
  created_at      timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  unique (tenant_id, credential_id),
  foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade,
  -- a credential cannot be backed up unless it is backup-eligible (WebAuthn BE/BS flags)
  check (backup_eligible or not backup_state)
);

create index passkeys_tenant_user_idx on passkeys (tenant_id, user_id);

-- Row-level security and grants ------------------------------------------------------------------

alter table users enable row level security;
alter table users force row level security;
create policy tenant_isolation on users for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table sessions enable row level security;
alter table sessions force row level security;
create policy tenant_isolation on sessions for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table session_anomaly_reports enable row level security;
alter table session_anomaly_reports force row level security;
create policy tenant_isolation on session_anomaly_reports for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table mfa_methods enable row level security;
alter table mfa_methods force row level security;
create policy tenant_isolation on mfa_methods for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table passkeys enable row level security;
alter table passkeys force row level security;
create policy tenant_isolation on passkeys for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

grant select, insert, update, delete on users to janua_app;
grant select, insert, update, delete on sessions to janua_app;
grant select, insert, update, delete on session_anomaly_reports to janua_app;
grant select, insert, update, delete on mfa_methods to janua_app;
grant select, insert, update, delete on passkeys to janua_app;
