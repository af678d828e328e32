-- Feedback volume per UTC day, kind and model version of the answer, kept current by the database
-- itself, so the dashboard reads a few hundred rollup rows instead of aggregating every rating,
-- vote, flag, correction and implicit event on each load.
--
-- Statement-level AFTER triggers with transition tables append one delta row per (day, kind,
-- version) that a statement touched: +n for rows inserted, -n for rows deleted, both for an
-- update (a rating changed from thumbs up to down moves between kinds and days). Deltas are only
-- ever inserted, so concurrent writers never wait on each other's rollup rows (an upsert into
-- feedback_daily would hold that row's lock until commit and serialize every ingestion statement).
-- The workers fold deltas into feedback_daily every minute (compactFeedbackRollup); readers add
-- the deltas not folded yet, so the numbers are exact at any moment. Counts survive the raw rows:
-- dropping an old month of implicit_events (retention) fires no trigger. Feedback on assistant
-- turns a person wrote (messages.author = 'human') is not feedback on a model and is left out.

CREATE TABLE "feedback_daily" (
    "id" BIGSERIAL NOT NULL,
    "day" DATE NOT NULL,
    "kind" TEXT NOT NULL,
    "model_version_id" UUID,
    "count" BIGINT NOT NULL,
    -- Prisma cannot express NULLS NOT DISTINCT: answers without a version share one row per day and kind.
    CONSTRAINT "feedback_daily_key" UNIQUE NULLS NOT DISTINCT ("day", "kind", "model_version_id"),
    CONSTRAINT "feedback_daily_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "feedback_daily_deltas" (
    "id" BIGSERIAL NOT NULL,
    "day" DATE NOT NULL,
    "kind" TEXT NOT NULL,
    "model_version_id" UUID,
    "count" BIGINT NOT NULL,

    CONSTRAINT "feedback_daily_deltas_pkey" PRIMARY KEY ("id")
);

-- The kind of a rating row, as the dashboard names it.
CREATE FUNCTION feedloop_rating_kind(kind "RatingKind", value integer) RETURNS text IMMUTABLE LANGUAGE sql AS $$
  SELECT CASE WHEN kind = 'thumbs' THEN CASE WHEN value > 0 THEN 'thumbs_up' ELSE 'thumbs_down' END ELSE 'stars' END
$$;

CREATE FUNCTION feedloop_rollup_ratings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO feedback_daily_deltas (day, kind, model_version_id, count)
    SELECT n.updated_at::date, feedloop_rating_kind(n.kind, n.value), m.model_version_id, count(*)
      FROM new_rows n JOIN messages m ON m.id = n.message_id WHERE m.author <> 'human' GROUP BY 1, 2, 3;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO feedback_daily_deltas (day, kind, model_version_id, count)
    SELECT o.updated_at::date, feedloop_rating_kind(o.kind, o.value), m.model_version_id, -count(*)
      FROM old_rows o JOIN messages m ON m.id = o.message_id WHERE m.author <> 'human' GROUP BY 1, 2, 3;
  END IF;
  RETURN NULL;
END $$;

-- Votes, flags, corrections and implicit events: (kind, answer, time) never change after insert.
-- TG_ARGV[0] is the kind ('event' takes the row's type), TG_ARGV[1] the answer column, TG_ARGV[2] the time column.
CREATE FUNCTION feedloop_rollup_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kind_sql text := CASE WHEN TG_ARGV[0] = 'event' THEN '''event_'' || r.type::text' ELSE quote_literal(TG_ARGV[0]) END;
  source text := CASE WHEN TG_OP = 'INSERT' THEN 'new_rows' ELSE 'old_rows' END;
  sign text := CASE WHEN TG_OP = 'INSERT' THEN '' ELSE '-' END;
BEGIN
  EXECUTE format(
    'INSERT INTO feedback_daily_deltas (day, kind, model_version_id, count)
     SELECT r.%2$I::date, %1$s, m.model_version_id, %4$scount(*)
       FROM %3$I r JOIN messages m ON m.id = r.%5$I WHERE m.author <> ''human'' GROUP BY 1, 2, 3',
    kind_sql, TG_ARGV[2], source, sign, TG_ARGV[1]);
  RETURN NULL;
END $$;

CREATE TRIGGER feedback_daily_ratings_insert AFTER INSERT ON ratings
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_rollup_ratings();
CREATE TRIGGER feedback_daily_ratings_update AFTER UPDATE ON ratings
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_rollup_ratings();
CREATE TRIGGER feedback_daily_ratings_delete AFTER DELETE ON ratings
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_rollup_ratings();

CREATE TRIGGER feedback_daily_votes_insert AFTER INSERT ON pairwise_votes
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_rollup_rows('vote', 'message_a_id', 'created_at');
CREATE TRIGGER feedback_daily_votes_delete AFTER DELETE ON pairwise_votes
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_rollup_rows('vote', 'message_a_id', 'created_at');
CREATE TRIGGER feedback_daily_flags_insert AFTER INSERT ON flags
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_rollup_rows('flag', 'message_id', 'created_at');
CREATE TRIGGER feedback_daily_flags_delete AFTER DELETE ON flags
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_rollup_rows('flag', 'message_id', 'created_at');
CREATE TRIGGER feedback_daily_corrections_insert AFTER INSERT ON corrections
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_rollup_rows('correction', 'message_id', 'created_at');
CREATE TRIGGER feedback_daily_corrections_delete AFTER DELETE ON corrections
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_rollup_rows('correction', 'message_id', 'created_at');
CREATE TRIGGER feedback_daily_events_insert AFTER INSERT ON implicit_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_rollup_rows('event', 'message_id', 'received_at');
CREATE TRIGGER feedback_daily_events_delete AFTER DELETE ON implicit_events
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_rollup_rows('event', 'message_id', 'received_at');

-- What is already stored.
INSERT INTO feedback_daily (day, kind, model_version_id, count)
SELECT f.at::date, f.kind, m.model_version_id, count(*)
  FROM (
    SELECT feedloop_rating_kind(r.kind, r.value) AS kind, r.message_id, r.updated_at AS at FROM ratings r
    UNION ALL SELECT 'vote', v.message_a_id, v.created_at FROM pairwise_votes v
    UNION ALL SELECT 'flag', f.message_id, f.created_at FROM flags f
    UNION ALL SELECT 'correction', c.message_id, c.created_at FROM corrections c
    UNION ALL SELECT 'event_' || e.type::text, e.message_id, e.received_at FROM implicit_events e
  ) f JOIN messages m ON m.id = f.message_id
 WHERE m.author <> 'human'
 GROUP BY 1, 2, 3;
