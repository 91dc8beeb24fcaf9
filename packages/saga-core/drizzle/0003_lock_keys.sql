-- A saga may hold several exclusivity keys: lock_key stays the first (its live-lock index is the PostgreSQL backstop),
-- the others go here (held in Redis, checked before each action). Additive: an older release ignores the column.
ALTER TABLE "saga_instances" ADD COLUMN "extra_lock_keys" text[];