-- dlp-worker state, version 1 (PostgreSQL). Times are Unix milliseconds (UTC). No raw matched
-- value is stored unless the run was asked for quotes (--include-quote).
CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    command       TEXT NOT NULL,
    targets       TEXT NOT NULL,
    ruleset_hash  TEXT NOT NULL,
    policy_hash   TEXT,
    actor         TEXT NOT NULL,
    dry_run       BIGINT NOT NULL,
    started_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    objects_scanned BIGINT,
    bytes_scanned BIGINT,
    findings      BIGINT,
    skipped       BIGINT,
    errors        BIGINT,
    actions       BIGINT,
    exit_code     BIGINT
);

CREATE TABLE objects (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES runs(id),
    store         TEXT NOT NULL,
    key           TEXT NOT NULL,
    url           TEXT NOT NULL,
    version       TEXT,
    size          BIGINT,
    scanned_at    BIGINT NOT NULL,
    ruleset_hash  TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    findings      BIGINT NOT NULL,
    error         TEXT
);
CREATE INDEX objects_by_key ON objects (store, key, scanned_at);

CREATE TABLE findings (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    object_id     BIGINT NOT NULL REFERENCES objects(id),
    run_id        TEXT NOT NULL,
    store         TEXT NOT NULL,
    key           TEXT NOT NULL,
    url           TEXT NOT NULL,
    version       TEXT,
    path          TEXT NOT NULL,
    byte_start    BIGINT NOT NULL,
    byte_end      BIGINT NOT NULL,
    line          BIGINT,
    page          BIGINT,
    row_number    BIGINT,
    column_name   TEXT,
    info_type     TEXT NOT NULL,
    category      TEXT NOT NULL,
    likelihood    TEXT NOT NULL,
    likelihood_rank BIGINT NOT NULL,
    redacted      TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    test_value    BIGINT NOT NULL,
    quote         TEXT,
    found_at      BIGINT NOT NULL
);
CREATE INDEX findings_by_key ON findings (store, key);
CREATE INDEX findings_by_type ON findings (info_type, found_at);

CREATE TABLE actions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id        TEXT NOT NULL,
    url           TEXT NOT NULL,
    version       TEXT,
    etag          TEXT,
    action        TEXT NOT NULL,
    rule          TEXT NOT NULL,
    reason        TEXT NOT NULL,
    destination   TEXT,
    actor         TEXT NOT NULL,
    dry_run       BIGINT NOT NULL,
    status        TEXT NOT NULL,
    detail        TEXT,
    started_at    BIGINT NOT NULL,
    finished_at   BIGINT
);
CREATE INDEX actions_by_url ON actions (url, started_at);
CREATE INDEX actions_pending ON actions (status);
