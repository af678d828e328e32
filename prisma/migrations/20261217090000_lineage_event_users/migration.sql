-- Implicit event ids are the client's own, unique per user since 20261215090000_event_ids_per_user:
-- a snapshot's lineage names an event by its user and id. Other feedback kinds have global ids and
-- leave user_id null; NULLS NOT DISTINCT keeps one row per (kind, id) for them as before.
ALTER TABLE "dataset_feedback" ADD COLUMN "user_id" UUID;
ALTER TABLE "dataset_feedback" DROP CONSTRAINT "dataset_feedback_pkey";
CREATE UNIQUE INDEX "dataset_feedback_dataset_id_kind_feedback_id_user_id_key"
  ON "dataset_feedback" ("dataset_id", "kind", "feedback_id", "user_id") NULLS NOT DISTINCT;
