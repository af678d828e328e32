-- Traffic splits, versions opened to users, and arena battles. A split shares the requests that
-- name no model among versions by weight; at most one split is current (ended_at IS NULL). An arena
-- battle asks two versions the same prompt and keeps which answer was shown on which side, so the
-- vote (a pairwise vote on the two answers) knows both versions.

-- AlterTable
ALTER TABLE "model_versions" ADD COLUMN "open_to_users" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "traffic_splits" (
    "id" UUID NOT NULL,
    "reason" TEXT NOT NULL,
    "created_by_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ended_at" TIMESTAMPTZ(3),
    "end_reason" TEXT,

    CONSTRAINT "traffic_splits_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "traffic_split_arms" (
    "split_id" UUID NOT NULL,
    "model_version_id" UUID NOT NULL,
    "weight" DOUBLE PRECISION NOT NULL,
    "position" INTEGER NOT NULL,

    CONSTRAINT "traffic_split_arms_pkey" PRIMARY KEY ("split_id", "model_version_id"),
    CONSTRAINT "traffic_split_arms_weight_check" CHECK ("weight" > 0)
);

-- CreateTable
CREATE TABLE "arena_battles" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "prompt" TEXT NOT NULL,
    "message_a_id" UUID NOT NULL,
    "message_b_id" UUID NOT NULL,
    "version_a_id" UUID NOT NULL,
    "version_b_id" UUID NOT NULL,
    "vote_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "voted_at" TIMESTAMPTZ(3),

    CONSTRAINT "arena_battles_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "arena_battles_versions_check" CHECK ("version_a_id" <> "version_b_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "traffic_splits_current_key" ON "traffic_splits"((true)) WHERE "ended_at" IS NULL;
CREATE INDEX "traffic_splits_created_at_idx" ON "traffic_splits"("created_at");
CREATE INDEX "traffic_split_arms_model_version_id_idx" ON "traffic_split_arms"("model_version_id");
CREATE UNIQUE INDEX "arena_battles_vote_id_key" ON "arena_battles"("vote_id");
CREATE INDEX "arena_battles_user_id_created_at_idx" ON "arena_battles"("user_id", "created_at");
CREATE INDEX "arena_battles_voted_at_idx" ON "arena_battles"("voted_at");
CREATE INDEX "arena_battles_message_a_id_idx" ON "arena_battles"("message_a_id");
CREATE INDEX "arena_battles_message_b_id_idx" ON "arena_battles"("message_b_id");

-- AddForeignKey
ALTER TABLE "traffic_splits" ADD CONSTRAINT "traffic_splits_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "traffic_split_arms" ADD CONSTRAINT "traffic_split_arms_split_id_fkey" FOREIGN KEY ("split_id") REFERENCES "traffic_splits"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "traffic_split_arms" ADD CONSTRAINT "traffic_split_arms_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "arena_battles" ADD CONSTRAINT "arena_battles_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "arena_battles" ADD CONSTRAINT "arena_battles_message_a_id_fkey" FOREIGN KEY ("message_a_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "arena_battles" ADD CONSTRAINT "arena_battles_message_b_id_fkey" FOREIGN KEY ("message_b_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "arena_battles" ADD CONSTRAINT "arena_battles_version_a_id_fkey" FOREIGN KEY ("version_a_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "arena_battles" ADD CONSTRAINT "arena_battles_version_b_id_fkey" FOREIGN KEY ("version_b_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "arena_battles" ADD CONSTRAINT "arena_battles_vote_id_fkey" FOREIGN KEY ("vote_id") REFERENCES "pairwise_votes"("id") ON DELETE SET NULL ON UPDATE CASCADE;
