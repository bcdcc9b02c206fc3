-- Per-tenant seed: the tenant's built-in roles. Run once when a tenant is created, inside a
-- transaction, with search_path = the placement's schema and these settings:
--   janua.tenant_id (uuid), janua.tenant_slug, janua.tenant_name, app.current_tenant (= tenant id).
--
-- Hierarchy (a role inherits every permission of its parent_role_id):
--   viewer  <-  member  <-  admin  <-  owner
-- Each statement is "on conflict do nothing", so running the file again is harmless.

insert into roles (tenant_id, parent_role_id, name, description, permissions, is_system)
values (current_setting('janua.tenant_id')::uuid, null, 'viewer',
        'Read-only access to ' || current_setting('janua.tenant_name'),
        '["users:read", "teams:read", "roles:read", "billing:read", "integrations:read"]'::jsonb, true)
on conflict (tenant_id, name) do nothing;

insert into roles (tenant_id, parent_role_id, name, description, permissions, is_system)
select current_setting('janua.tenant_id')::uuid, r.id, 'member',
       'Everyday work in ' || current_setting('janua.tenant_name'),
       '["teams:join", "api_keys:create", "api_keys:revoke:own", "sessions:revoke:own", "analytics:write"]'::jsonb,
       true
from roles r
where r.tenant_id = current_setting('janua.tenant_id')::uuid and r.name = 'viewer'
on conflict (tenant_id, name) do nothing;

insert into roles (tenant_id, parent_role_id, name, description, permissions, is_system)
select current_setting('janua.tenant_id')::uuid, r.id, 'admin',
       'Manages users, teams, roles and integrations of ' || current_setting('janua.tenant_name'),
       '["users:*", "teams:*", "roles:*", "role_assignments:*", "policies:*", "integrations:*",
         "api_keys:*", "sessions:*", "audit_logs:read"]'::jsonb,
       true
from roles r
where r.tenant_id = current_setting('janua.tenant_id')::uuid and r.name = 'member'
on conflict (tenant_id, name) do nothing;

insert into roles (tenant_id, parent_role_id, name, description, permissions, is_system)
select current_setting('janua.tenant_id')::uuid, r.id, 'owner',
       'Full control of ' || current_setting('janua.tenant_name') || ' (' || current_setting('janua.tenant_slug') || '), including billing',
       '["*"]'::jsonb,
       true
from roles r
where r.tenant_id = current_setting('janua.tenant_id')::uuid and r.name = 'admin'
on conflict (tenant_id, name) do nothing;
