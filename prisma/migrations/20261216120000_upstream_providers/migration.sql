-- Upstream providers (issue 15): a model version is served either by feedloop's own TF.js model
-- (`local`, weights in a folder under MODEL_DIR) or by an OpenAI-compatible Chat Completions server
-- (`openai`: vLLM, Ollama, TGI, llama.cpp, a hosted API). An upstream version has no folder, so
-- `path` becomes nullable; it is set exactly for local versions. The API key is never stored:
-- `api_key_env` names an environment variable of the API process that holds it.
CREATE TYPE "ModelProvider" AS ENUM ('local', 'openai');

ALTER TABLE "model_versions" ADD COLUMN "provider" "ModelProvider" NOT NULL DEFAULT 'local';
ALTER TABLE "model_versions" ALTER COLUMN "path" DROP NOT NULL;
ALTER TABLE "model_versions" ADD COLUMN "base_url" TEXT;
ALTER TABLE "model_versions" ADD COLUMN "upstream_model" TEXT;
ALTER TABLE "model_versions" ADD COLUMN "api_key_env" TEXT;
ALTER TABLE "model_versions" ADD COLUMN "upstream_headers" JSONB;
-- Sampling defaults for the version (the request's own options win over them).
ALTER TABLE "model_versions" ADD COLUMN "sampling_defaults" JSONB;

ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_provider_check" CHECK (
  ("provider" = 'local' AND "path" IS NOT NULL AND "base_url" IS NULL AND "upstream_model" IS NULL
     AND "api_key_env" IS NULL AND "upstream_headers" IS NULL)
  OR ("provider" = 'openai' AND "path" IS NULL AND "base_url" IS NOT NULL AND "upstream_model" IS NOT NULL)
);

-- Each served answer records which provider wrote it and, for an upstream, what the upstream
-- reported: the model id, the response id and its usage object exactly as sent (null when the
-- upstream sent none; feedloop never fills it with a guess).
ALTER TABLE "messages" ADD COLUMN "provider" "ModelProvider";
ALTER TABLE "messages" ADD COLUMN "upstream_model" TEXT;
ALTER TABLE "messages" ADD COLUMN "upstream_response_id" TEXT;
ALTER TABLE "messages" ADD COLUMN "usage" JSONB;
