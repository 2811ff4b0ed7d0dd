-- Where an unfinished sweep of a target stopped listing: every object listed up to and
-- including after_key was scanned, recorded and acted on. Deleted when a sweep lists the
-- target to its end. id: a hash of the target URL and the sweep's options (detector set,
-- --full, --sample-percent), so a sweep resumes only one like itself.
CREATE TABLE sweep_checkpoints (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    after_key TEXT NOT NULL,
    run_id TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
