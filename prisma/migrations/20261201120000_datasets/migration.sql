-- CreateEnum
CREATE TYPE "DatasetFeedbackKind" AS ENUM ('rating', 'pairwise_vote', 'correction', 'implicit_event');

-- CreateTable
CREATE TABLE "datasets" (
    "id" UUID NOT NULL,
    "content_hash" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "config" JSONB NOT NULL,
    "window_start" TIMESTAMP(3),
    "window_end" TIMESTAMP(3) NOT NULL,
    "model_version_ids" UUID[],
    "sizes" JSONB NOT NULL,
    "sizes_by_source" JSONB NOT NULL,
    "stats" JSONB NOT NULL,
    "created_by_id" UUID,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "datasets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "dataset_feedback" (
    "dataset_id" UUID NOT NULL,
    "kind" "DatasetFeedbackKind" NOT NULL,
    "feedback_id" TEXT NOT NULL,

    CONSTRAINT "dataset_feedback_pkey" PRIMARY KEY ("dataset_id","kind","feedback_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "datasets_content_hash_key" ON "datasets"("content_hash");

-- CreateIndex
CREATE INDEX "datasets_created_at_idx" ON "datasets"("created_at");

-- CreateIndex
CREATE INDEX "dataset_feedback_kind_feedback_id_idx" ON "dataset_feedback"("kind", "feedback_id");

-- AddForeignKey
ALTER TABLE "dataset_feedback" ADD CONSTRAINT "dataset_feedback_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "datasets"("id") ON DELETE CASCADE ON UPDATE CASCADE;
