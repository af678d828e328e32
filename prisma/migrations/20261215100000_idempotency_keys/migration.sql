-- Idempotency-Key: a client's key for one write (a flag, a correction) and what it created, so a
-- retry with the same key gets the first answer, and the key reused for another request is refused.
-- Keys are per user and remembered for 24 hours.
CREATE TABLE "idempotency_keys" (
    "user_id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "resource_id" UUID NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("user_id", "key")
);

CREATE INDEX "idempotency_keys_user_id_created_at_idx" ON "idempotency_keys"("user_id", "created_at");

ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The content check (same user, message and content) looks flags and corrections up by message.
CREATE INDEX "flags_message_id_user_id_idx" ON "flags"("message_id", "user_id");
CREATE INDEX "corrections_message_id_user_id_idx" ON "corrections"("message_id", "user_id");
