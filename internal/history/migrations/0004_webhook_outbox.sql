-- Webhook outbox: deliveries are recorded by the transaction that finishes
-- a job or fails an item, and sent by the worker when due. Same
-- conventions as 0001_init.sql.

-- When a pending delivery is due (unix microseconds): 0 = at once. The
-- worker pushes it forward while a queued task owns the delivery.
ALTER TABLE webhook_deliveries ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;

-- PendingDeliveries: only the few pending deliveries, by due time.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
