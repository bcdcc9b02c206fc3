-- 0003_billing: billing plans (reference data), payment customers, payment methods,
-- subscriptions, payment intents and usage records. Same conventions as 0001 (header there).

-- Billing plans: reference data, no tenant_id, no RLS, read-only for the app role --------------
-- Keyed by a stable code (not a generated uuid) so that subscriptions keep pointing at the same
-- plan when a tenant is copied to another placement.

create table billing_plans (
  code                text        not null,
  name                text        not null,
  description         text,
  currency            char(3)     not null default 'USD',
  price_monthly_cents bigint      not null check (price_monthly_cents >= 0),
  price_yearly_cents  bigint      not null check (price_yearly_cents >= 0),
  trial_days          integer     not null default 0 check (trial_days >= 0),
  limits              jsonb       not null default '{}'::jsonb,   -- null limit = unlimited
  features            jsonb       not null default '[]'::jsonb,
  is_public           boolean     not null default true,
  sort_order          integer     not null default 0,
  created_at          timestamptz not null default now(),
  primary key (code)
);

insert into billing_plans
  (code, name, description, price_monthly_cents, price_yearly_cents, trial_days, limits, features, is_public, sort_order)
values
  ('free', 'Free', 'For individuals and evaluation', 0, 0, 0,
   '{"seats": 3, "teams": 1, "api_calls_per_month": 10000, "integrations": 1, "audit_retention_days": 7}',
   '["password_login", "totp"]', true, 10),
  ('startup', 'Startup', 'For small teams', 2900, 29000, 14,
   '{"seats": 25, "teams": 10, "api_calls_per_month": 250000, "integrations": 5, "audit_retention_days": 30}',
   '["password_login", "totp", "passkeys", "teams", "api_keys"]', true, 20),
  ('professional', 'Professional', 'For growing organisations', 9900, 99000, 14,
   '{"seats": 200, "teams": null, "api_calls_per_month": 2000000, "integrations": 25, "audit_retention_days": 365}',
   '["password_login", "totp", "passkeys", "teams", "api_keys", "custom_roles", "policies", "anomaly_detection"]', true, 30),
  ('enterprise', 'Enterprise', 'Custom contract, SSO, dedicated isolation', 0, 0, 30,
   '{"seats": null, "teams": null, "api_calls_per_month": null, "integrations": null, "audit_retention_days": 2555}',
   '["password_login", "totp", "passkeys", "hardware_keys", "teams", "api_keys", "custom_roles", "policies", "anomaly_detection", "sso", "dedicated_database"]', false, 40);

-- Payment customers: one per paying account, with the id at each payment provider -------------

create table payment_customers (
  id                  uuid        not null default gen_random_uuid(),
  tenant_id           uuid        not null,
  name                text,
  billing_email       text        not null,
  billing_address     jsonb       not null default '{}'::jsonb,
  tax_id              text,
  default_currency    char(3)     not null default 'USD',
  stripe_customer_id  text,
  conekta_customer_id text,
  fungies_customer_id text,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  unique (tenant_id, stripe_customer_id),
  unique (tenant_id, conekta_customer_id),
  unique (tenant_id, fungies_customer_id)
);

create table payment_methods (
  id                 uuid        not null default gen_random_uuid(),
  tenant_id          uuid        not null,
  customer_id        uuid        not null,
  provider           text        not null check (provider in ('stripe', 'conekta', 'fungies')),
  provider_method_id text        not null,
  kind               text        not null
                     check (kind in ('card', 'bank_account', 'sepa_debit', 'oxxo', 'spei', 'wallet', 'other')),
  brand              text,
  last4              text        check (last4 ~ '^[0-9]{4}$'),
  exp_month          smallint    check (exp_month between 1 and 12),
  exp_year           smallint,
  is_default         boolean     not null default false,
  created_at         timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  unique (tenant_id, provider, provider_method_id),
  foreign key (tenant_id, customer_id) references payment_customers (tenant_id, id) on delete cascade
);

create index payment_methods_tenant_customer_idx on payment_methods (tenant_id, customer_id);

-- Subscriptions ----------------------------------------------------------------------------------

create table billing_subscriptions (
  id                       uuid        not null default gen_random_uuid(),
  tenant_id                uuid        not null,
  customer_id              uuid        not null,
  -- reference data: a plain foreign key, cannot include tenant_id
  plan_code                text        not null references billing_plans (code) on delete restrict,
  status                   text        not null default 'trialing'
                           check (status in ('trialing', 'active', 'past_due', 'paused', 'canceled', 'incomplete')),
  provider                 text        check (provider in ('stripe', 'conekta', 'fungies')),
  provider_subscription_id text,
  billing_interval         text        not null default 'month' check (billing_interval in ('month', 'year')),
  quantity                 integer     not null default 1 check (quantity > 0),   -- seats
  trial_ends_at            timestamptz,
  current_period_start     timestamptz not null default now(),
  current_period_end       timestamptz not null,
  cancel_at_period_end     boolean     not null default false,
  canceled_at              timestamptz,
  discount_percent         numeric(5,2) check (discount_percent > 0 and discount_percent <= 100),
  discount_amount_cents    bigint      check (discount_amount_cents > 0),
  discount_ends_at         timestamptz,
  created_at               timestamptz not null default now(),
  updated_at               timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  unique (tenant_id, provider, provider_subscription_id),
  foreign key (tenant_id, customer_id) references payment_customers (tenant_id, id) on delete restrict,
  check (current_period_end > current_period_start),
  check (discount_percent is null or discount_amount_cents is null)   -- one kind of discount
);

create index billing_subscriptions_tenant_customer_idx on billing_subscriptions (tenant_id, customer_id);
create index billing_subscriptions_tenant_plan_idx on billing_subscriptions (tenant_id, plan_code);

-- Payment intents --------------------------------------------------------------------------------

create table payment_intents (
  id                 uuid        not null default gen_random_uuid(),
  tenant_id          uuid        not null,
  customer_id        uuid        not null,
  subscription_id    uuid,
  payment_method_id  uuid,
  provider           text        not null check (provider in ('stripe', 'conekta', 'fungies')),
  provider_intent_id text,
  amount_cents       bigint      not null check (amount_cents >= 0),
  currency           char(3)     not null default 'USD',
  status             text        not null default 'requires_payment_method'
                     check (status in ('requires_payment_method', 'requires_confirmation', 'requires_action',
                                       'processing', 'succeeded', 'canceled', 'failed')),
  failure_reason     text,
  idempotency_key    text,
  metadata           jsonb       not null default '{}'::jsonb,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  unique (tenant_id, provider, provider_intent_id),
  unique (tenant_id, idempotency_key),
  foreign key (tenant_id, customer_id) references payment_customers (tenant_id, id) on delete restrict,
  foreign key (tenant_id, subscription_id) references billing_subscriptions (tenant_id, id)
    on delete set null (subscription_id),
  foreign key (tenant_id, payment_method_id) references payment_methods (tenant_id, id)
    on delete set null (payment_method_id)
);

create index payment_intents_tenant_customer_idx on payment_intents (tenant_id, customer_id, created_at);
create index payment_intents_tenant_subscription_idx on payment_intents (tenant_id, subscription_id);
create index payment_intents_tenant_method_idx on payment_intents (tenant_id, payment_method_id);

-- Usage records (metered billing) ----------------------------------------------------------------
-- seq is an identity column: a cheap, placement-local ingest order for exporters. It is
-- deliberately not unique, so rows copied from another placement can never collide with it.

create table usage_records (
  id              uuid        not null default gen_random_uuid(),
  seq             bigint      not null generated by default as identity,
  tenant_id       uuid        not null,
  subscription_id uuid        not null,
  metric          text        not null,                     -- e.g. 'api_calls', 'seats'
  quantity        bigint      not null check (quantity >= 0),
  recorded_at     timestamptz not null default now(),
  idempotency_key text,
  reported_at     timestamptz,                              -- pushed to the provider
  created_at      timestamptz not null default now(),
  primary key (id),
  unique (tenant_id, id),
  unique (tenant_id, idempotency_key),
  foreign key (tenant_id, subscription_id) references billing_subscriptions (tenant_id, id) on delete cascade
);

create index usage_records_tenant_subscription_idx on usage_records (tenant_id, subscription_id, metric, recorded_at);
create index usage_records_tenant_seq_idx on usage_records (tenant_id, seq);

-- Row-level security and grants ------------------------------------------------------------------

alter table payment_customers enable row level security;
alter table payment_customers force row level security;
create policy tenant_isolation on payment_customers for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table payment_methods enable row level security;
alter table payment_methods force row level security;
create policy tenant_isolation on payment_methods for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table billing_subscriptions enable row level security;
alter table billing_subscriptions force row level security;
create policy tenant_isolation on billing_subscriptions for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table payment_intents enable row level security;
alter table payment_intents force row level security;
create policy tenant_isolation on payment_intents for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

alter table usage_records enable row level security;
alter table usage_records force row level security;
create policy tenant_isolation on usage_records for all
  using (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)
  with check (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);

grant select on billing_plans to janua_app;
grant select, insert, update, delete on payment_customers to janua_app;
grant select, insert, update, delete on payment_methods to janua_app;
grant select, insert, update, delete on billing_subscriptions to janua_app;
grant select, insert, update, delete on payment_intents to janua_app;
grant select, insert, update, delete on usage_records to janua_app;
