-- dlp-worker state, version 1 (SQLite). Times are Unix milliseconds (UTC). No raw matched
-- value is stored unless the run was asked for quotes (--include-quote).
CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    command       TEXT NOT NULL,
    targets       TEXT NOT NULL,
    ruleset_hash  TEXT NOT NULL,
    policy_hash   TEXT,
    actor         TEXT NOT NULL,
    dry_run       INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    objects_scanned INTEGER,
    bytes_scanned INTEGER,
    findings      INTEGER,
    skipped       INTEGER,
    errors        INTEGER,
    actions       INTEGER,
    exit_code     INTEGER
);

CREATE TABLE objects (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        TEXT NOT NULL REFERENCES runs(id),
    store         TEXT NOT NULL,
    key           TEXT NOT NULL,
    url           TEXT NOT NULL,
    version       TEXT,
    size          INTEGER,
    scanned_at    INTEGER NOT NULL,
    ruleset_hash  TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    findings      INTEGER NOT NULL,
    error         TEXT
);
CREATE INDEX objects_by_key ON objects (store, key, scanned_at);

CREATE TABLE findings (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    object_id     INTEGER NOT NULL REFERENCES objects(id),
    run_id        TEXT NOT NULL,
    store         TEXT NOT NULL,
    key           TEXT NOT NULL,
    url           TEXT NOT NULL,
    version       TEXT,
    path          TEXT NOT NULL,
    byte_start    INTEGER NOT NULL,
    byte_end      INTEGER NOT NULL,
    line          INTEGER,
    page          INTEGER,
    row_number    INTEGER,
    column_name   TEXT,
    info_type     TEXT NOT NULL,
    category      TEXT NOT NULL,
    likelihood    TEXT NOT NULL,
    likelihood_rank INTEGER NOT NULL,
    redacted      TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    test_value    INTEGER NOT NULL,
    quote         TEXT,
    found_at      INTEGER NOT NULL
);
CREATE INDEX findings_by_key ON findings (store, key);
CREATE INDEX findings_by_type ON findings (info_type, found_at);

CREATE TABLE actions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        TEXT NOT NULL,
    url           TEXT NOT NULL,
    version       TEXT,
    etag          TEXT,
    action        TEXT NOT NULL,
    rule          TEXT NOT NULL,
    reason        TEXT NOT NULL,
    destination   TEXT,
    actor         TEXT NOT NULL,
    dry_run       INTEGER NOT NULL,
    status        TEXT NOT NULL,
    detail        TEXT,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER
);
CREATE INDEX actions_by_url ON actions (url, started_at);
CREATE INDEX actions_pending ON actions (status);
