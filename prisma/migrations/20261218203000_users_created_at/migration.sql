-- GET /v1/users pages oldest first by (created_at, id); anyone can sign up, so the table grows with
-- its users. EXPLAIN (ANALYZE, BUFFERS) of a page of 100 after a cursor, 202k users: without this
-- index "Parallel Seq Scan on users" and a top-N heapsort, 2,125 buffers, 83 ms; with it
-- "Index Scan using users_created_at_id_idx ... Index Cond: (created_at >= ...)", 6 buffers, 0.1 ms.
CREATE INDEX "users_created_at_id_idx" ON "users"("created_at", "id");
