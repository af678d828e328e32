-- Implicit event ids are the client's own, unique per user since 20261215090000_event_ids_per_user:
-- a snapshot's lineage names an event by its user and id. Other feedback kinds have global ids and
-- leave user_id empty, so the key stays one row per (kind, id) for them as before.
ALTER TABLE "dataset_feedback" ADD COLUMN "user_id" TEXT NOT NULL DEFAULT '';
ALTER TABLE "dataset_feedback" DROP CONSTRAINT "dataset_feedback_pkey";
ALTER TABLE "dataset_feedback" ADD CONSTRAINT "dataset_feedback_pkey" PRIMARY KEY ("dataset_id", "kind", "feedback_id", "user_id");
