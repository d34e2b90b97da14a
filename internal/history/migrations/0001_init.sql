-- Initial schema of the history store. One file serves PostgreSQL and
-- SQLite: {{id}} and {{blob}} are replaced per dialect (see migrate.go).
-- Times are BIGINT unix microseconds (UTC), JSON documents are TEXT (kept
-- byte for byte), booleans are BOOLEAN.

CREATE TABLE tenants (
    id                TEXT PRIMARY KEY,
    display_name      TEXT NOT NULL DEFAULT '',
    client_id         TEXT NOT NULL DEFAULT '',
    cloud             TEXT NOT NULL DEFAULT '',
    graph_endpoint    TEXT NOT NULL DEFAULT '',
    authority_host    TEXT NOT NULL DEFAULT '',
    secret_ciphertext {{blob}},
    secret_key_id     TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- Item counts per status are counter columns kept by every transition in
-- the same transaction, so that GetJob never counts over items.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    action           TEXT NOT NULL,
    status           TEXT NOT NULL,
    total            INTEGER NOT NULL,
    duplicates       INTEGER NOT NULL DEFAULT 0,
    reason           TEXT NOT NULL DEFAULT '',
    requested_by     TEXT NOT NULL DEFAULT '',
    actor            TEXT NOT NULL DEFAULT '',
    context          TEXT,
    params           TEXT,
    dry_run          BOOLEAN NOT NULL DEFAULT FALSE,
    priority         TEXT NOT NULL DEFAULT '',
    idempotency_key  TEXT,
    request_hash     TEXT NOT NULL DEFAULT '',
    fanout_next      INTEGER NOT NULL DEFAULT 0,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    n_pending        INTEGER NOT NULL DEFAULT 0,
    n_running        INTEGER NOT NULL DEFAULT 0,
    n_retrying       INTEGER NOT NULL DEFAULT 0,
    n_succeeded      INTEGER NOT NULL DEFAULT 0,
    n_skipped        INTEGER NOT NULL DEFAULT 0,
    n_failed         INTEGER NOT NULL DEFAULT 0,
    n_canceled       INTEGER NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT
);

-- Idempotency: one job per (tenant, key); jobs without a key store NULL.
CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- ListJobs, newest first, with or without a tenant / status / action filter.
CREATE INDEX jobs_created ON jobs (created_at, id);
CREATE INDEX jobs_tenant_created ON jobs (tenant_id, created_at, id);
CREATE INDEX jobs_status_created ON jobs (status, created_at, id);
CREATE INDEX jobs_action_created ON jobs (action, created_at, id);
-- JobsNeedingFanout: only the few jobs whose fan-out is not finished.
CREATE INDEX jobs_fanout ON jobs (created_at, id) WHERE fanout_next < total;

-- Items carry no tenant/action: they are read joined to their job.
CREATE TABLE items (
    job_id           TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    identity         TEXT NOT NULL,
    object_id        TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    detail           TEXT NOT NULL DEFAULT '',
    error_code       TEXT,
    error_message    TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    graph_request_id TEXT NOT NULL DEFAULT '',
    prior_state      TEXT,
    results          TEXT,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE INDEX items_identity ON items (job_id, identity);
-- ListItems by status. Pending items are left out: a new job inserts them
-- all at once (cheaper without this index), and a pending filter reads the
-- primary key, where pending items are the majority.
CREATE INDEX items_status ON items (job_id, status, seq) WHERE status <> 'pending';

-- The attempt log of an item (one row per Graph call).
CREATE TABLE calls (
    id          {{id}},
    job_id      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    at          BIGINT NOT NULL,
    attempt     INTEGER NOT NULL DEFAULT 0,
    operation   TEXT NOT NULL DEFAULT '',
    http_status INTEGER NOT NULL DEFAULT 0,
    error_code  TEXT NOT NULL DEFAULT '',
    request_id  TEXT NOT NULL DEFAULT '',
    duration_ns BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX calls_item ON calls (job_id, seq, at, id);

-- One row per terminal transition: the per-identity history. Job fields are
-- copied so that History reads one table.
CREATE TABLE outcomes (
    id               {{id}},
    job_id           TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    tenant_id        TEXT NOT NULL,
    action           TEXT NOT NULL,
    identity         TEXT NOT NULL,
    status           TEXT NOT NULL,
    detail           TEXT NOT NULL DEFAULT '',
    error_code       TEXT,
    error_message    TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    graph_request_id TEXT NOT NULL DEFAULT '',
    reason           TEXT NOT NULL DEFAULT '',
    actor            TEXT NOT NULL DEFAULT '',
    requested_by     TEXT NOT NULL DEFAULT '',
    at               BIGINT NOT NULL
);

-- History is newest first by id. The primary key serves the unfiltered
-- listing; each filter that narrows a large history has an index ending in
-- id, so that "filter, order by id desc, limit n" reads n index entries.
-- None of them requires a tenant.
CREATE INDEX outcomes_identity ON outcomes (identity, id);
CREATE INDEX outcomes_tenant ON outcomes (tenant_id, id);
CREATE INDEX outcomes_tenant_identity ON outcomes (tenant_id, identity, id);
CREATE INDEX outcomes_action ON outcomes (action, id);
CREATE INDEX outcomes_at ON outcomes (at, id);
CREATE INDEX outcomes_status ON outcomes (status, id);
