-- A dataset build reads, a page of prompts at a time, every implicit event of those prompts'
-- answers (src/feedback/feedback-stream.ts promptGroups). Events arrive in time order, so one
-- answer's events lie on as many heap pages as it has events, and each page of prompts read about
-- one heap page per event: with bench:scale's seed (EXPLAIN (ANALYZE, BUFFERS), one page of 2,000
-- prompts, plain index on message_id) 33k events took 518 ms and 14.5k buffer reads at 1x, 47k took
-- 1,333 ms and 34.5k reads at 4x, 41k took 2,984 ms and 40k reads at 16x: the cost per event grew
-- with the table (15.7, 28.5, 72 us), and the build with it. With the columns the build reads in
-- the index, Postgres answers from the index alone (Index Only Scan, Heap Fetches: 0 once vacuum
-- has marked the pages all-visible), an answer's events side by side: the same 4x page took 44 ms
-- and 2.9k reads. The price is size: at 4x the index is about 450 MB instead of 37 MB (the plain
-- index deduplicates repeated message ids).
DROP INDEX "implicit_events_message_id_idx";
CREATE INDEX "implicit_events_message_id_idx" ON "implicit_events"("message_id") INCLUDE ("id", "user_id", "type", "value", "received_at");
