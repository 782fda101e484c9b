-- A big message is accepted in parts, each its own transaction, so that its first deliveries go
-- out while the rest are still being written (issue 14). Its row is written 0 by the first part
-- and 1 by the last: 0 = still being written, or its accept stopped half-way (the same
-- Idempotency-Key again completes it under the same id). Every other message is written whole.
ALTER TABLE messages ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;
