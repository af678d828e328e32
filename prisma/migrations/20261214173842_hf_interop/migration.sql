-- Where an imported version came from: a hash of the files the import read, the source's original
-- config.json, the tokens feedloop added. Null for versions feedloop made itself.
ALTER TABLE "model_versions" ADD COLUMN "provenance" JSONB;

-- A run given an existing version (imported, trained elsewhere) skips the datasets and train
-- stages: it evaluates, reports and gates that version.
ALTER TABLE "loop_runs" ADD COLUMN "evaluate_only" BOOLEAN NOT NULL DEFAULT false;
