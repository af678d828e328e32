-- Provenance of every message (issue 13, defect 1): who wrote it. `served` answers come from one of
-- our model versions through the serving path, `logged` answers were logged by a service credential
-- with the name of the model that wrote them, and everything else (prompts, system turns, and any
-- assistant turn a person typed or imported) is `human`. Only served and logged answers count as a
-- model's answers: in insights, flag rates, rater statistics and datasets.
-- The `service` role is for apps that call their own model and log each exchange here.
ALTER TYPE "Role" ADD VALUE IF NOT EXISTS 'service';

CREATE TYPE "MessageAuthor" AS ENUM ('human', 'served', 'logged');

ALTER TABLE "messages" ADD COLUMN "author" "MessageAuthor" NOT NULL DEFAULT 'human';
ALTER TABLE "messages" ADD COLUMN "logged_model" TEXT;

-- Before this migration anyone could post an assistant turn with a model version id, so an
-- existing row cannot prove it was served. Answers tagged with a version are taken as served (the
-- serving path always tagged its answers); untagged assistant turns, whoever posted them, become
-- human-authored: they stay readable but no longer count as model output.
UPDATE "messages" SET "author" = 'served' WHERE "role" = 'assistant' AND "model_version_id" IS NOT NULL;

ALTER TABLE "messages" ADD CONSTRAINT "messages_author_check" CHECK (
  ("author" = 'human' AND "model_version_id" IS NULL AND "logged_model" IS NULL)
  OR ("author" = 'served' AND "role" = 'assistant' AND "logged_model" IS NULL)
  OR ("author" = 'logged' AND "role" = 'assistant' AND "model_version_id" IS NULL AND "logged_model" IS NOT NULL)
);
