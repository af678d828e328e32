-- Where an imported version came from: a hash of the files the import read, the source's original
-- config.json, the tokens feedloop added. Null for versions feedloop made itself.
ALTER TABLE "model_versions" ADD COLUMN "provenance" JSONB;
