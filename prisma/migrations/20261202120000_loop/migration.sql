-- The training loop: runs with their progress and logs, evaluation reports, the schedule, and the
-- dataset lineage of model versions.

-- CreateEnum
CREATE TYPE "LoopRunStatus" AS ENUM ('queued', 'running', 'succeeded', 'failed', 'cancelled');

-- CreateEnum
CREATE TYPE "LoopRunPhase" AS ENUM ('queued', 'datasets', 'training', 'evaluating', 'reporting', 'gating', 'done');

-- CreateEnum
CREATE TYPE "LoopTrigger" AS ENUM ('manual', 'cron', 'feedback');

-- CreateEnum
CREATE TYPE "LoopDecision" AS ENUM ('promoted', 'rejected');

-- CreateTable
CREATE TABLE "loop_runs" (
    "id" UUID NOT NULL,
    "status" "LoopRunStatus" NOT NULL DEFAULT 'queued',
    "phase" "LoopRunPhase" NOT NULL DEFAULT 'queued',
    "trigger" "LoopTrigger" NOT NULL,
    "reason" TEXT,
    "config" JSONB NOT NULL DEFAULT '{}',
    "created_by_id" UUID,
    "dataset_id" UUID,
    "candidate_version_id" UUID,
    "report_id" UUID,
    "decision" "LoopDecision",
    "error" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "loop_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "loop_run_progress" (
    "id" BIGSERIAL NOT NULL,
    "run_id" UUID NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "phase" TEXT NOT NULL,
    "method" TEXT,
    "step" INTEGER NOT NULL,
    "total_steps" INTEGER NOT NULL,
    "epoch" INTEGER,
    "stage" INTEGER,
    "loss" DOUBLE PRECISION,
    "lr" DOUBLE PRECISION,
    "grad_norm" DOUBLE PRECISION,
    "val_loss" DOUBLE PRECISION,
    "metrics" JSONB,
    "resumed_from_step" INTEGER,

    CONSTRAINT "loop_run_progress_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "loop_run_logs" (
    "id" BIGSERIAL NOT NULL,
    "run_id" UUID NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "level" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "details" JSONB,

    CONSTRAINT "loop_run_logs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "evaluation_reports" (
    "id" UUID NOT NULL,
    "model_version_id" UUID NOT NULL,
    "compared_with_version_id" UUID,
    "run_id" UUID,
    "evaluation_key" TEXT NOT NULL,
    "report" JSONB NOT NULL,
    "gate" JSONB,
    "win_rate" JSONB,
    "flag_rate" JSONB,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "evaluation_reports_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "loop_schedule" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "cron" TEXT NOT NULL,
    "feedback_threshold" INTEGER NOT NULL,
    "training" JSONB NOT NULL DEFAULT '{}',
    "updated_by_id" UUID,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_run_cursor" TIMESTAMP(3),

    CONSTRAINT "loop_schedule_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "loop_schedule_singleton" CHECK ("id" = 1)
);

-- CreateIndex
CREATE INDEX "loop_runs_created_at_idx" ON "loop_runs"("created_at");

-- CreateIndex
CREATE INDEX "loop_runs_status_idx" ON "loop_runs"("status");

-- At most one run in progress: the scheduler and the API both rely on it.
CREATE UNIQUE INDEX "loop_runs_one_in_progress" ON "loop_runs" ((true)) WHERE "status" IN ('queued', 'running');

-- CreateIndex
CREATE INDEX "loop_run_progress_run_id_id_idx" ON "loop_run_progress"("run_id", "id");

-- CreateIndex
CREATE INDEX "loop_run_logs_run_id_id_idx" ON "loop_run_logs"("run_id", "id");

-- CreateIndex
CREATE INDEX "evaluation_reports_model_version_id_created_at_idx" ON "evaluation_reports"("model_version_id", "created_at");

-- CreateIndex
CREATE INDEX "evaluation_reports_created_at_idx" ON "evaluation_reports"("created_at");

-- CreateIndex
CREATE INDEX "evaluation_reports_run_id_idx" ON "evaluation_reports"("run_id");

-- The feedback-threshold check counts ratings by their last change.
CREATE INDEX "ratings_updated_at_idx" ON "ratings"("updated_at");

-- Rollback finds the current version's activation entry by its target.
CREATE INDEX "audit_log_target_created_at_idx" ON "audit_log"("target", "created_at");

-- Reports of a version made with the same evaluation options (the evaluate and report stages).
CREATE INDEX "evaluation_reports_model_version_id_evaluation_key_created_at_idx" ON "evaluation_reports"("model_version_id", "evaluation_key", "created_at");

-- CreateIndex
CREATE INDEX "model_versions_dataset_id_idx" ON "model_versions"("dataset_id");

-- AddForeignKey
ALTER TABLE "loop_runs" ADD CONSTRAINT "loop_runs_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "loop_runs" ADD CONSTRAINT "loop_runs_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "datasets"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "loop_runs" ADD CONSTRAINT "loop_runs_candidate_version_id_fkey" FOREIGN KEY ("candidate_version_id") REFERENCES "model_versions"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "loop_runs" ADD CONSTRAINT "loop_runs_report_id_fkey" FOREIGN KEY ("report_id") REFERENCES "evaluation_reports"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "loop_run_progress" ADD CONSTRAINT "loop_run_progress_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "loop_runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "loop_run_logs" ADD CONSTRAINT "loop_run_logs_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "loop_runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "evaluation_reports" ADD CONSTRAINT "evaluation_reports_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "evaluation_reports" ADD CONSTRAINT "evaluation_reports_compared_with_version_id_fkey" FOREIGN KEY ("compared_with_version_id") REFERENCES "model_versions"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "evaluation_reports" ADD CONSTRAINT "evaluation_reports_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "loop_runs"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "loop_schedule" ADD CONSTRAINT "loop_schedule_updated_by_id_fkey" FOREIGN KEY ("updated_by_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "datasets"("id") ON DELETE SET NULL ON UPDATE CASCADE;
