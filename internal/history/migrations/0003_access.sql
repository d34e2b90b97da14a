-- API keys, the append-only audit log, webhooks with their deliveries, and
-- tenant deletion. Same conventions as 0001_init.sql; the audit_append_only
-- token below is the dialect's trigger DDL refusing UPDATE and DELETE of
-- audit_log (see postgres.go and sqlite.go).

-- A deleted tenant keeps its row, which its jobs reference, with its
-- credentials and settings cleared and deleted_at set. GetTenant and
-- ListTenants skip it; CreateTenant of the same id revives the row.
ALTER TABLE tenants ADD COLUMN deleted_at BIGINT;

-- DeleteTenant: does the tenant have a queued or running job? Only the few
-- unfinished jobs are indexed.
CREATE INDEX jobs_tenant_active ON jobs (tenant_id) WHERE status IN ('queued', 'running');

-- Only a SHA-256 hash of each secret is stored. tenants is a JSON array of
-- tenant ids; NULL means all tenants.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL DEFAULT '',
    prefix       TEXT NOT NULL DEFAULT '',
    role         TEXT NOT NULL,
    tenants      TEXT,
    hash         {{blob}} NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    last_used_at BIGINT,
    revoked_at   BIGINT
);

CREATE UNIQUE INDEX api_keys_hash ON api_keys (hash);

-- Administrative actions, newest first by id. Rows are never updated or
-- deleted: the triggers below refuse it.
CREATE TABLE audit_log (
    id          {{id}},
    at          BIGINT NOT NULL,
    key_id      TEXT NOT NULL DEFAULT '',
    key_name    TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    tenant_id   TEXT NOT NULL DEFAULT '',
    target      TEXT NOT NULL DEFAULT '',
    details     TEXT,
    remote_addr TEXT NOT NULL DEFAULT '',
    request_id  TEXT NOT NULL DEFAULT ''
);

-- Like outcomes: each filter has an index ending in id.
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_key ON audit_log (key_id, id);
CREATE INDEX audit_log_at ON audit_log (at, id);

{{audit_append_only}}

-- Per-tenant webhooks. events is a JSON array; the signing secret is
-- sealed like tenant secrets.
CREATE TABLE webhooks (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    url               TEXT NOT NULL,
    events            TEXT NOT NULL,
    secret_ciphertext {{blob}},
    secret_key_id     TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    created_by        TEXT NOT NULL DEFAULT ''
);

CREATE INDEX webhooks_tenant ON webhooks (tenant_id, created_at, id);

-- Events sent (or to be sent) to a webhook; deleted with their webhook.
CREATE TABLE webhook_deliveries (
    id           TEXT PRIMARY KEY,
    webhook_id   TEXT NOT NULL REFERENCES webhooks (id),
    tenant_id    TEXT NOT NULL,
    event        TEXT NOT NULL,
    payload      TEXT,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_status  INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    delivered_at BIGINT
);

-- ListDeliveries, newest first.
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at, id);
