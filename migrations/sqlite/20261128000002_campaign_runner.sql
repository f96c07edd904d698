-- Campaign runner: per-callout dialing settings (NULL keeps SCFM's manual behaviour) and the
-- attempt number of calls the runner creates. The unique index makes "create attempt N for this
-- participation" idempotent, so two processes running the same campaign cannot both create it.
ALTER TABLE callouts ADD COLUMN dialing_settings TEXT;
ALTER TABLE phone_calls ADD COLUMN runner_attempt INTEGER;
CREATE UNIQUE INDEX phone_calls_runner_attempt ON phone_calls (callout_participation_id, runner_attempt)
    WHERE runner_attempt IS NOT NULL;
CREATE INDEX callouts_running ON callouts (status) WHERE dialing_settings IS NOT NULL;
