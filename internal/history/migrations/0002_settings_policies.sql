-- Tenant settings and managed policies, undo/retry jobs, batched policy
-- requests. Same conventions as 0001_init.sql.

-- Settings are one JSON document (remediation.TenantSettings); NULL means
-- all defaults.
ALTER TABLE tenants ADD COLUMN settings TEXT;

ALTER TABLE jobs ADD COLUMN confirm_admin_targets BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE jobs ADD COLUMN undo_of TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN retry_of TEXT NOT NULL DEFAULT '';

-- In an undo job, the original item's prior_state: what the undo restores.
ALTER TABLE items ADD COLUMN undo_state TEXT;

-- The managed Conditional Access policy (and group) of each kind. A row of
-- its own, apart from tenants.settings, so that the worker storing a
-- policy and an admin changing settings never overwrite each other.
CREATE TABLE tenant_policies (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    kind       TEXT NOT NULL,
    policy_id  TEXT NOT NULL DEFAULT '',
    group_id   TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind)
);

-- Pending policy membership changes, one per item (job_id, seq), deleted
-- once a flush has handled them: the table stays small.
CREATE TABLE policy_requests (
    job_id     TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    tenant_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    op         TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    dry_run    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (job_id, seq)
);

-- PendingPolicyRequests (oldest first per tenant and kind) and
-- PolicyRequestTenants.
CREATE INDEX policy_requests_pending ON policy_requests (tenant_id, kind, created_at, job_id, seq);
