-- Dataset build settings for the loop: the schedule's overrides every run starts from, and the
-- merged settings each run built its snapshot with (src/datasets/build-config.ts, minus the window).
ALTER TABLE "loop_schedule" ADD COLUMN "datasets" JSONB NOT NULL DEFAULT '{}';
ALTER TABLE "loop_runs" ADD COLUMN "dataset_config" JSONB NOT NULL DEFAULT '{}';
