-- 0002_teams_rbac: teams (unlimited nesting), members, invitations, hierarchical roles,
-- role assignments and policy documents. Same conventions as 0001 (header there).

-- Teams ------------------------------------------------------------------------------------------

create table teams (
  id             uuid        not null default gen_random_uuid(),
  tenant_id      uuid        not null,
  -- unlimited nesting; deleting a team deletes its sub-teams (and their memberships)
  parent_team_id uuid,
  name           text        not null,
  slug           text        not null,
  description    text,
  settings       jsonb       not null default '{}'::jsonb,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  unique (tenant_id, slug),
  foreign key (tenant_id, parent_team_id) references teams (tenant_id, id) on delete cascade,
  check (parent_team_id is distinct from id)
);

create index teams_tenant_parent_idx on teams (tenant_id, parent_team_id);

create table team_members (
  id         uuid        not null default gen_random_uuid(),
  tenant_id  uuid        not null,
  team_id    uuid        not null,
  user_id    uuid        not null,
  role       text        not null default 'member' check (role in ('owner', 'maintainer', 'member')),
  created_at timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  unique (tenant_id, team_id, user_id),
  foreign key (tenant_id, team_id) references teams (tenant_id, id) on delete cascade,
  foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);

create index team_members_tenant_user_idx on team_members (tenant_id, user_id);

-- Roles and assignments --------------------------------------------------------------------------

create table roles (
  id             uuid        not null default gen_random_uuid(),
  tenant_id      uuid        not null,
  -- a role inherits every permission of its parent (viewer <- member <- admin <- owner);
  -- a parent that others inherit from cannot be deleted
  parent_role_id uuid,
  name           text        not null,
  description    text,
  permissions    jsonb       not null default '[]'::jsonb,   -- e.g. ["teams:read", "billing:*"]
  is_system      boolean     not null default false,         -- seeded defaults, not editable in the UI
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  unique (tenant_id, name),
  foreign key (tenant_id, parent_role_id) references roles (tenant_id, id) on delete restrict,
  check (parent_role_id is distinct from id),
  check (jsonb_typeof(permissions) = 'array')
);

create index roles_tenant_parent_idx on roles (tenant_id, parent_role_id);

create table role_assignments (
  id             uuid        not null default gen_random_uuid(),
  tenant_id      uuid        not null,
  role_id        uuid        not null,
  -- polymorphic principal and scope: no foreign key, resolved by the application
  principal_type text        not null check (principal_type in ('user', 'team', 'api_key', 'service')),
  principal_id   uuid        not null,
  scope_type     text        not null default 'tenant'
                 check (scope_type in ('tenant', 'team', 'project', 'resource')),
  scope_id       uuid,                                       -- null for scope_type 'tenant'
  conditions     jsonb       not null default '{}'::jsonb,   -- ABAC conditions, e.g. {"ip_in": [...]}
  granted_by     uuid,
  expires_at     timestamptz,
  created_at     timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  unique nulls not distinct (tenant_id, role_id, principal_type, principal_id, scope_type, scope_id),
  foreign key (tenant_id, role_id) references roles (tenant_id, id) on delete cascade,
  foreign key (tenant_id, granted_by) references users (tenant_id, id) on delete set null (granted_by),
  check ((scope_type = 'tenant') = (scope_id is null))
);

create index role_assignments_tenant_principal_idx on role_assignments (tenant_id, principal_type, principal_id);
create index role_assignments_tenant_scope_idx on role_assignments (tenant_id, scope_type, scope_id);
create index role_assignments_tenant_granted_by_idx on role_assignments (tenant_id, granted_by);

-- Invitations (after roles: an invitation may carry the role to grant) ---------------------------

create table team_invitations (
  id          uuid        not null default gen_random_uuid(),
  tenant_id   uuid        not null,
  team_id     uuid        not null,
  email       text        not null,
  role_id     uuid,
  -- only a hash of the emailed token is stored
  token_hash  bytea       not null,
  invited_by  uuid,
  status      text        not null default 'pending'
              check (status in ('pending', 'accepted', 'revoked', 'expired')),
  expires_at  timestamptz not null,
  accepted_at timestamptz,
  created_at  timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  unique (tenant_id, token_hash),
  foreign key (tenant_id, team_id) references teams (tenant_id, id) on delete cascade,
  foreign key (tenant_id, role_id) references roles (tenant_id, id) on delete set null (role_id),
  foreign key (tenant_id, invited_by) references users (tenant_id, id) on delete set null (invited_by)
);

create index team_invitations_tenant_team_idx on team_invitations (tenant_id, team_id);
create index team_invitations_tenant_email_idx on team_invitations (tenant_id, lower(email)) where status = 'pending';
create index team_invitations_tenant_role_idx on team_invitations (tenant_id, role_id);
create index team_invitations_tenant_invited_by_idx on team_invitations (tenant_id, invited_by);

-- Policies (JSON documents, evaluated by the application) ----------------------------------------

create table policies (
  id          uuid        not null default gen_random_uuid(),
  tenant_id   uuid        not null,
  name        text        not null,
  description text,
  -- {"version": 1, "statements": [{"effect": "allow", "actions": [...], "resources": [...]}]}
  document    jsonb       not null,
  enabled     boolean     not null default true,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  unique (tenant_id, name),
  check (jsonb_typeof(document) = 'object')
);

-- History: users get a default team, now that teams exist ----------------------------------------

alter table users add column default_team_id uuid;
alter table users add foreign key (tenant_id, default_team_id)
  references teams (tenant_id, id) on delete set null (default_team_id);
create index users_tenant_default_team_idx on users (tenant_id, default_team_id);

-- Row-level security and grants ------------------------------------------------------------------

alter table teams enable row level security;
alter table teams force row level security;
create policy tenant_isolation on teams for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table team_members enable row level security;
alter table team_members force row level security;
create policy tenant_isolation on team_members for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table roles enable row level security;
alter table roles force row level security;
create policy tenant_isolation on roles for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table role_assignments enable row level security;
alter table role_assignments force row level security;
create policy tenant_isolation on role_assignments for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table team_invitations enable row level security;
alter table team_invitations force row level security;
create policy tenant_isolation on team_invitations for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table policies enable row level security;
alter table policies force row level security;
create policy tenant_isolation on policies for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

grant select, insert, update, delete on teams to janua_app;
grant select, insert, update, delete on team_members to janua_app;
grant select, insert, update, delete on roles to janua_app;
grant select, insert, update, delete on role_assignments to janua_app;
grant select, insert, update, delete on team_invitations to janua_app;
grant select, insert, update, delete on policies to janua_app;
