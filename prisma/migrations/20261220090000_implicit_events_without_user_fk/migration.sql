-- An implicit event's user is always the owner of its message: ingestion stores only events about
-- the sender's own messages (src/feedback/events/ingest.ts), and deleting a user deletes their
-- conversations, their messages and, through implicit_events_message_id_fkey, their events. The
-- foreign key to users checked again, for every row, what the message's key already holds, and
-- its per-row FOR KEY SHARE lock on the same user row made concurrent statements share that row
-- through multixacts. Measured on a 2-core AMD EPYC, one backend inserting the writer's unnest
-- statement (backend CPU per row): 38.4 us with both keys, 24.9 us without this one, 19.3 us with
-- neither, at 200 rows a statement; 22.1 / 19.3 / 14.4 us at 5,000. bench:ingest's database
-- ceiling (two connections, one user's events) went from 43k to 56k-68k rows/s.
ALTER TABLE "implicit_events" DROP CONSTRAINT "implicit_events_user_id_fkey";
