-- One row that each API process writes 16 times when it starts, timing the commit, to learn how long
-- this server's commits wait for the WAL flush (src/platform/db/commit-latency.ts; the event writer
-- paces its statements by it). A write is needed: a transaction that wrote no WAL commits without
-- waiting for the disk, whatever synchronous_commit says.
CREATE TABLE "commit_probe" (
    "id" INTEGER NOT NULL,
    "at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "commit_probe_pkey" PRIMARY KEY ("id")
);
