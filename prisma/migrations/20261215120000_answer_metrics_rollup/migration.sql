-- Per-version online metrics (/v1/insights/metrics) from a rollup, as feedback_daily does for volume:
-- per UTC day of the answer, model version and metric, kept current by statement-level triggers
-- that append +n/-n deltas (never an upsert, so concurrent writers never wait on a rollup row); the
-- workers fold them into answer_metrics_daily every minute (compactAnswerMetrics) and readers add
-- the deltas not folded yet, so the numbers are exact at any moment.
--
-- Metrics: answers (served answers with a version), thumbs, thumbs_up, stars_n, stars_sum, stars_sq
-- (from ratings on them), and corrected, regenerated, copied: answers with at least one correction,
-- a later sibling answer, a copy event. "At least one" cannot be a delta of the raw rows, so those
-- three go through answer_marks: one row per answer and mark, inserted ON CONFLICT DO NOTHING (a
-- second copy of the same answer, concurrent or not, inserts nothing and counts nothing), and its
-- own triggers emit the deltas. answer_marks keeps the answer's day and version, so its deltas need
-- no join and still work when a cascade has removed the message. Marks survive retention (dropping
-- an old month of implicit_events fires no trigger), as feedback_daily's counts do.
--
-- EXPLAIN (ANALYZE, BUFFERS) of the dashboard's metrics query over 30 days, on a database seeded by
-- bench/scale-seed.ts (2,006 messages, 4,000 explicit feedback rows, 40,000 implicit events; the
-- shared 2-core machine at load 15): aggregating the raw rows (versionMetricsFromRows, what the
-- route ran before) read 29,889 buffers in 1,266 ms; the rollup (versionMetrics) read 42 buffers in
-- 0.6 ms, and both gave the same numbers. The raw cost grows with answers x their feedback, the
-- rollup's with days x versions x 9 metrics.
-- The only indexes are the tables' keys: answer_metrics_daily_key is what the fold's upsert needs
-- (and serves the reader's range on day); answer_marks_pkey is what ON CONFLICT DO NOTHING needs.

CREATE TABLE "answer_metrics_daily" (
    "id" BIGSERIAL NOT NULL,
    "day" DATE NOT NULL,
    "model_version_id" UUID NOT NULL,
    "metric" TEXT NOT NULL,
    "value" BIGINT NOT NULL,
    CONSTRAINT "answer_metrics_daily_key" UNIQUE ("day", "model_version_id", "metric"),
    CONSTRAINT "answer_metrics_daily_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "answer_metrics_deltas" (
    "id" BIGSERIAL NOT NULL,
    "day" DATE NOT NULL,
    "model_version_id" UUID NOT NULL,
    "metric" TEXT NOT NULL,
    "value" BIGINT NOT NULL,
    CONSTRAINT "answer_metrics_deltas_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "answer_marks" (
    "message_id" UUID NOT NULL,
    "mark" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "model_version_id" UUID NOT NULL,
    CONSTRAINT "answer_marks_pkey" PRIMARY KEY ("message_id", "mark"),
    CONSTRAINT "answer_marks_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- Answers: served assistant messages with a version.
CREATE FUNCTION feedloop_metrics_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO answer_metrics_deltas (day, model_version_id, metric, value)
    SELECT n.created_at::date, n.model_version_id, 'answers', count(*)
      FROM new_rows n
     WHERE n.role = 'assistant' AND n.author = 'served' AND n.model_version_id IS NOT NULL
     GROUP BY 1, 2;
    -- A new model answer makes its earlier sibling answers regenerated.
    INSERT INTO answer_marks (message_id, mark, day, model_version_id)
    SELECT DISTINCT s.id, 'regenerated', s.created_at::date, s.model_version_id
      FROM new_rows n
      CROSS JOIN LATERAL (
        SELECT s.id, s.created_at, s.model_version_id FROM messages s
         WHERE s.parent_id = n.parent_id AND s.created_at < n.created_at
           AND s.role = 'assistant' AND s.author = 'served' AND s.model_version_id IS NOT NULL
        OFFSET 0) s
     WHERE n.role = 'assistant' AND n.author <> 'human' AND n.parent_id IS NOT NULL
    ON CONFLICT DO NOTHING;
  ELSE
    INSERT INTO answer_metrics_deltas (day, model_version_id, metric, value)
    SELECT o.created_at::date, o.model_version_id, 'answers', -count(*)
      FROM old_rows o
     WHERE o.role = 'assistant' AND o.author = 'served' AND o.model_version_id IS NOT NULL
     GROUP BY 1, 2;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER answer_metrics_messages_insert AFTER INSERT ON messages
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_metrics_messages();
CREATE TRIGGER answer_metrics_messages_delete AFTER DELETE ON messages
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_metrics_messages();

-- The served answer `id` names (no row for any other message), looked up by primary key. Every
-- trigger below goes from its transition table to messages through this lateral lookup: a join
-- would let the planner scan messages once per changed row when its statistics are stale (seen
-- right after a bulk load: 50,000 events took 4 minutes instead of 6 seconds).
CREATE FUNCTION feedloop_served_answer(answer_id uuid)
  RETURNS TABLE (id uuid, day date, model_version_id uuid) STABLE LANGUAGE sql AS $$
  SELECT m.id, m.created_at::date, m.model_version_id FROM messages m
   WHERE m.id = answer_id AND m.role = 'assistant' AND m.author = 'served' AND m.model_version_id IS NOT NULL
   OFFSET 0
$$;

-- Ratings on served answers: thumbs counts and the stars' count, sum and sum of squares.
CREATE FUNCTION feedloop_metrics_rating_values(kind "RatingKind", value integer)
  RETURNS TABLE (metric text, amount bigint) IMMUTABLE LANGUAGE sql AS $$
  SELECT * FROM (VALUES
    ('thumbs', CASE WHEN kind = 'thumbs' THEN 1 ELSE 0 END),
    ('thumbs_up', CASE WHEN kind = 'thumbs' AND value > 0 THEN 1 ELSE 0 END),
    ('stars_n', CASE WHEN kind = 'stars' THEN 1 ELSE 0 END),
    ('stars_sum', CASE WHEN kind = 'stars' THEN value ELSE 0 END),
    ('stars_sq', CASE WHEN kind = 'stars' THEN value * value ELSE 0 END)) v(metric, amount)
  WHERE amount <> 0
$$;

CREATE FUNCTION feedloop_metrics_ratings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO answer_metrics_deltas (day, model_version_id, metric, value)
    SELECT m.day, m.model_version_id, v.metric, sum(v.amount)
      FROM new_rows n
      CROSS JOIN LATERAL feedloop_served_answer(n.message_id) m
      CROSS JOIN LATERAL feedloop_metrics_rating_values(n.kind, n.value) v
     GROUP BY 1, 2, 3;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO answer_metrics_deltas (day, model_version_id, metric, value)
    SELECT m.day, m.model_version_id, v.metric, -sum(v.amount)
      FROM old_rows o
      CROSS JOIN LATERAL feedloop_served_answer(o.message_id) m
      CROSS JOIN LATERAL feedloop_metrics_rating_values(o.kind, o.value) v
     GROUP BY 1, 2, 3;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER answer_metrics_ratings_insert AFTER INSERT ON ratings
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_metrics_ratings();
CREATE TRIGGER answer_metrics_ratings_update AFTER UPDATE ON ratings
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_metrics_ratings();
CREATE TRIGGER answer_metrics_ratings_delete AFTER DELETE ON ratings
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_metrics_ratings();

-- Corrections and copy events mark their answer.
CREATE FUNCTION feedloop_metrics_corrections() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO answer_marks (message_id, mark, day, model_version_id)
    SELECT m.id, 'corrected', m.day, m.model_version_id
      FROM (SELECT DISTINCT message_id FROM new_rows) n
      CROSS JOIN LATERAL feedloop_served_answer(n.message_id) m
    ON CONFLICT DO NOTHING;
  ELSE
    DELETE FROM answer_marks k USING (SELECT DISTINCT message_id FROM old_rows) o
     WHERE k.message_id = o.message_id AND k.mark = 'corrected'
       AND NOT EXISTS (SELECT 1 FROM corrections c WHERE c.message_id = o.message_id);
  END IF;
  RETURN NULL;
END $$;

-- On the ingestion path: only copy events join anything, and a copy of an already copied answer
-- costs one index probe.
CREATE FUNCTION feedloop_metrics_copies() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO answer_marks (message_id, mark, day, model_version_id)
    SELECT m.id, 'copied', m.day, m.model_version_id
      FROM (SELECT DISTINCT message_id FROM new_rows WHERE type = 'copy') n
      CROSS JOIN LATERAL feedloop_served_answer(n.message_id) m
    ON CONFLICT DO NOTHING;
  ELSE
    DELETE FROM answer_marks k USING (SELECT DISTINCT message_id FROM old_rows WHERE type = 'copy') o
     WHERE k.message_id = o.message_id AND k.mark = 'copied'
       AND NOT EXISTS (SELECT 1 FROM implicit_events e WHERE e.message_id = o.message_id AND e.type = 'copy');
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER answer_metrics_corrections_insert AFTER INSERT ON corrections
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_metrics_corrections();
CREATE TRIGGER answer_metrics_corrections_delete AFTER DELETE ON corrections
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_metrics_corrections();
CREATE TRIGGER answer_metrics_events_insert AFTER INSERT ON implicit_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_metrics_copies();
CREATE TRIGGER answer_metrics_events_delete AFTER DELETE ON implicit_events
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_metrics_copies();

-- A mark counts once per answer: its own insert and delete are the deltas.
CREATE FUNCTION feedloop_metrics_marks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO answer_metrics_deltas (day, model_version_id, metric, value)
    SELECT day, model_version_id, mark, count(*) FROM new_rows GROUP BY 1, 2, 3;
  ELSE
    INSERT INTO answer_metrics_deltas (day, model_version_id, metric, value)
    SELECT day, model_version_id, mark, -count(*) FROM old_rows GROUP BY 1, 2, 3;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER answer_marks_insert AFTER INSERT ON answer_marks
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_metrics_marks();
CREATE TRIGGER answer_marks_delete AFTER DELETE ON answer_marks
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION feedloop_metrics_marks();

-- What is already stored: the marks (their trigger writes their deltas), then the other metrics.
INSERT INTO answer_marks (message_id, mark, day, model_version_id)
SELECT a.id, k.mark, a.created_at::date, a.model_version_id
  FROM messages a
  CROSS JOIN LATERAL (
    SELECT 'corrected' AS mark WHERE EXISTS (SELECT 1 FROM corrections c WHERE c.message_id = a.id)
    UNION ALL SELECT 'copied' WHERE EXISTS (
      SELECT 1 FROM implicit_events e WHERE e.message_id = a.id AND e.type = 'copy')
    UNION ALL SELECT 'regenerated' WHERE EXISTS (
      SELECT 1 FROM messages later WHERE later.parent_id = a.parent_id AND later.role = 'assistant'
         AND later.author <> 'human' AND later.created_at > a.created_at)) k
 WHERE a.role = 'assistant' AND a.author = 'served' AND a.model_version_id IS NOT NULL;

INSERT INTO answer_metrics_daily (day, model_version_id, metric, value)
SELECT day, model_version_id, metric, sum(value) FROM (
  SELECT a.created_at::date AS day, a.model_version_id, 'answers' AS metric, count(*) AS value
    FROM messages a
   WHERE a.role = 'assistant' AND a.author = 'served' AND a.model_version_id IS NOT NULL
   GROUP BY 1, 2
  UNION ALL
  SELECT m.created_at::date, m.model_version_id, v.metric, sum(v.amount)
    FROM ratings r JOIN messages m ON m.id = r.message_id
    CROSS JOIN LATERAL feedloop_metrics_rating_values(r.kind, r.value) v
   WHERE m.role = 'assistant' AND m.author = 'served' AND m.model_version_id IS NOT NULL
   GROUP BY 1, 2, 3
  UNION ALL
  SELECT day, model_version_id, metric, sum(value) FROM answer_metrics_deltas GROUP BY 1, 2, 3
) s GROUP BY 1, 2, 3;
DELETE FROM answer_metrics_deltas;
