-- Event ids are the client's own, so they are unique per user, not across users: another user's
-- event with the same id is stored, and the answer never hints that the id was taken.
--
-- The primary key becomes (user_id, id, received_at) (a unique key on a partitioned table must
-- contain the partition key), and each monthly partition's unique index on id alone becomes one
-- on (user_id, id): the writer's `ON CONFLICT DO NOTHING` (no conflict target) keeps a user's own
-- repeat from being stored twice within a month, as before, now per user.
-- (Dated after 20261214173842_hf_interop so it runs after the table was partitioned.)

ALTER TABLE "implicit_events" DROP CONSTRAINT "implicit_events_pkey";
ALTER TABLE "implicit_events" ADD CONSTRAINT "implicit_events_pkey" PRIMARY KEY ("user_id", "id", "received_at");

DO $$
DECLARE
  part text;
BEGIN
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'implicit_events'::regclass
  LOOP
    EXECUTE format('DROP INDEX IF EXISTS %I', part || '_id_key');
    EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %I (user_id, id)', part || '_user_id_id_key', part);
  END LOOP;
END $$;

-- The partition of the month starting at `month` (UTC), with its unique index on (user_id, id).
-- Idempotent. A month whose rows sit in the default partition (created late) takes them over.
CREATE OR REPLACE FUNCTION feedloop_ensure_event_partition(month date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  first date := date_trunc('month', month)::date;
  name text := format('implicit_events_y%sm%s', to_char(first, 'YYYY'), to_char(first, 'MM'));
  staged text := name || '_staged';
BEGIN
  IF to_regclass(format('%I', name)) IS NOT NULL THEN
    RETURN name;
  END IF;
  IF EXISTS (SELECT 1 FROM implicit_events_default WHERE received_at >= first AND received_at < first + interval '1 month') THEN
    EXECUTE format('CREATE TABLE %I (LIKE implicit_events INCLUDING DEFAULTS)', staged);
    EXECUTE format('WITH moved AS (DELETE FROM implicit_events_default WHERE received_at >= %L AND received_at < %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
      first, first + interval '1 month', staged);
    EXECUTE format('ALTER TABLE %I RENAME TO %I', staged, name);
    EXECUTE format('ALTER TABLE implicit_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name, first, first + interval '1 month');
  ELSE
    EXECUTE format('CREATE TABLE %I PARTITION OF implicit_events FOR VALUES FROM (%L) TO (%L)', name, first, first + interval '1 month');
  END IF;
  EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %I (user_id, id)', name || '_user_id_id_key', name);
  RETURN name;
END $$;
