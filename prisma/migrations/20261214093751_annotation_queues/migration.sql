-- Annotation queues: several raters judge the same answers under guidelines and a rubric, with
-- leases so that no item is handed out beyond its overlap; consensus labels reach the datasets with
-- their agreement recorded in lineage. Ratings take an optional reason.

-- AlterTable
ALTER TABLE "ratings" ADD COLUMN "reason" TEXT;

-- CreateEnum
CREATE TYPE "AnnotationQueueStatus" AS ENUM ('open', 'closed');

-- CreateEnum
CREATE TYPE "AnnotationAssignmentStatus" AS ENUM ('leased', 'done', 'skipped');

-- CreateTable
CREATE TABLE "annotation_queues" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "guidelines" TEXT NOT NULL DEFAULT '',
    "rubric" JSONB NOT NULL,
    "source" JSONB NOT NULL,
    "overlap" INTEGER NOT NULL,
    "lease_seconds" INTEGER NOT NULL,
    "annotator_roles" "Role"[],
    "annotator_ids" UUID[],
    "status" "AnnotationQueueStatus" NOT NULL DEFAULT 'open',
    "created_by_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "closed_at" TIMESTAMPTZ(3),

    CONSTRAINT "annotation_queues_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "annotation_queues_overlap_check" CHECK ("overlap" >= 1),
    CONSTRAINT "annotation_queues_lease_check" CHECK ("lease_seconds" >= 1)
);

-- CreateTable
CREATE TABLE "annotation_items" (
    "id" UUID NOT NULL,
    "queue_id" UUID NOT NULL,
    "message_id" UUID NOT NULL,
    "message_b_id" UUID,
    "prompt_owner_id" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "annotation_items_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "annotation_assignments" (
    "id" UUID NOT NULL,
    "item_id" UUID NOT NULL,
    "queue_id" UUID NOT NULL,
    "rater_id" UUID NOT NULL,
    "status" "AnnotationAssignmentStatus" NOT NULL DEFAULT 'leased',
    "leased_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "submitted_at" TIMESTAMPTZ(3),
    "thumbs" INTEGER,
    "stars" INTEGER,
    "choice" "PairwiseChoice",
    "label" TEXT,
    "reason" TEXT,

    CONSTRAINT "annotation_assignments_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "annotation_assignments_thumbs_check" CHECK ("thumbs" IN (-1, 1)),
    CONSTRAINT "annotation_assignments_stars_check" CHECK ("stars" BETWEEN 1 AND 5)
);

-- CreateTable
CREATE TABLE "dataset_annotations" (
    "dataset_id" UUID NOT NULL,
    "item_id" UUID NOT NULL,
    "consensus" JSONB NOT NULL,
    "weight" DOUBLE PRECISION NOT NULL,
    "agreement" DOUBLE PRECISION,
    "raters" INTEGER NOT NULL,

    CONSTRAINT "dataset_annotations_pkey" PRIMARY KEY ("dataset_id", "item_id")
);

-- CreateIndex
CREATE INDEX "annotation_queues_status_created_at_idx" ON "annotation_queues"("status", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "annotation_items_queue_id_position_key" ON "annotation_items"("queue_id", "position");

-- CreateIndex
CREATE INDEX "annotation_items_message_id_idx" ON "annotation_items"("message_id");

-- CreateIndex
CREATE INDEX "annotation_items_message_b_id_idx" ON "annotation_items"("message_b_id");

-- CreateIndex
CREATE UNIQUE INDEX "annotation_assignments_item_id_rater_id_key" ON "annotation_assignments"("item_id", "rater_id");

-- CreateIndex
CREATE INDEX "annotation_assignments_queue_id_rater_id_idx" ON "annotation_assignments"("queue_id", "rater_id");

-- CreateIndex
CREATE INDEX "annotation_assignments_item_id_status_idx" ON "annotation_assignments"("item_id", "status");

-- CreateIndex
CREATE INDEX "annotation_assignments_status_submitted_at_idx" ON "annotation_assignments"("status", "submitted_at");

-- CreateIndex
CREATE INDEX "dataset_annotations_item_id_idx" ON "dataset_annotations"("item_id");

-- AddForeignKey
ALTER TABLE "annotation_queues" ADD CONSTRAINT "annotation_queues_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "annotation_items" ADD CONSTRAINT "annotation_items_queue_id_fkey" FOREIGN KEY ("queue_id") REFERENCES "annotation_queues"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "annotation_items" ADD CONSTRAINT "annotation_items_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "annotation_items" ADD CONSTRAINT "annotation_items_message_b_id_fkey" FOREIGN KEY ("message_b_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "annotation_assignments" ADD CONSTRAINT "annotation_assignments_item_id_fkey" FOREIGN KEY ("item_id") REFERENCES "annotation_items"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "annotation_assignments" ADD CONSTRAINT "annotation_assignments_queue_id_fkey" FOREIGN KEY ("queue_id") REFERENCES "annotation_queues"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "annotation_assignments" ADD CONSTRAINT "annotation_assignments_rater_id_fkey" FOREIGN KEY ("rater_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "dataset_annotations" ADD CONSTRAINT "dataset_annotations_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "datasets"("id") ON DELETE CASCADE ON UPDATE CASCADE;
