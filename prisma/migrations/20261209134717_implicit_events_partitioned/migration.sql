-- implicit_events is partitioned by month of received_at (UTC), natively (PARTITION BY RANGE), so
-- that old months can be dropped whole (FEEDLOOP_EVENT_RETENTION_MONTHS) and queries on a time
-- window touch only its months. Prisma cannot express partitioning; prisma/schema.prisma describes
-- the parent table (with its composite primary key) and this SQL does the rest.
--
-- A unique index on a partitioned table must contain the partition key, so the parent's primary key
-- is (id, received_at). Each monthly partition also has a unique index on id alone: the writer's
-- `ON CONFLICT DO NOTHING` (no conflict target) uses every unique index of the partition a row is
-- routed to, so an event sent again is still stored once within a month; the writer also looks
-- in the previous month's partition during the first day of a month (see event-writer.ts).

ALTER TABLE "implicit_events" RENAME TO "implicit_events_unpartitioned";
ALTER TABLE "implicit_events_unpartitioned" RENAME CONSTRAINT "implicit_events_pkey" TO "implicit_events_unpartitioned_pkey";
ALTER TABLE "implicit_events_unpartitioned" DROP CONSTRAINT "implicit_events_message_id_fkey";
ALTER TABLE "implicit_events_unpartitioned" DROP CONSTRAINT "implicit_events_user_id_fkey";
DROP INDEX "implicit_events_message_id_idx";
DROP INDEX "implicit_events_type_received_at_idx";

CREATE TABLE "implicit_events" (
    "id" TEXT NOT NULL,
    "type" "ImplicitEventType" NOT NULL,
    "message_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "value" DOUBLE PRECISION,
    "client_ts" TIMESTAMP(3) NOT NULL,
    "received_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "implicit_events_pkey" PRIMARY KEY ("id", "received_at")
) PARTITION BY RANGE ("received_at");

CREATE INDEX "implicit_events_message_id_idx" ON "implicit_events"("message_id");
CREATE INDEX "implicit_events_type_received_at_idx" ON "implicit_events"("type", "received_at");
ALTER TABLE "implicit_events" ADD CONSTRAINT "implicit_events_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "implicit_events" ADD CONSTRAINT "implicit_events_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Rows outside every monthly partition land here instead of failing (the maintenance creates
-- months ahead, so it stays empty; a month created later moves its rows out of it).
CREATE TABLE "implicit_events_default" PARTITION OF "implicit_events" DEFAULT;
CREATE UNIQUE INDEX "implicit_events_default_id_key" ON "implicit_events_default"("id");

-- The partition of the month starting at `month` (UTC), with its unique index on id. Idempotent.
-- A month whose rows sit in the default partition (created late) takes them over.
CREATE FUNCTION feedloop_ensure_event_partition(month date) RETURNS text LANGUAGE plpgsql AS $$
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
  EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %I (id)', name || '_id_key', name);
  RETURN name;
END $$;

-- Every month that already has events, this month and the next two.
SELECT feedloop_ensure_event_partition(m::date)
  FROM (SELECT DISTINCT date_trunc('month', received_at) AS m FROM implicit_events_unpartitioned
        UNION SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => k) FROM generate_series(0, 2) k) months;

INSERT INTO "implicit_events" SELECT "id", "type", "message_id", "user_id", "value", "client_ts", "received_at" FROM "implicit_events_unpartitioned";
DROP TABLE "implicit_events_unpartitioned";
