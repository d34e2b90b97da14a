-- The stale-item reconciler (stale.go). Same conventions as 0001_init.sql.

-- When the job last made progress: an item changed status or the fan-out
-- recorded a page. NULL until then (created_at stands in).
ALTER TABLE jobs ADD COLUMN progress_at BIGINT;

-- StaleItems: only the few unfinished jobs, in id order (its cursor).
CREATE INDEX jobs_open ON jobs (id) WHERE status IN ('queued', 'running');
