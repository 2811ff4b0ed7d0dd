-- Version 4: claims, so that many workers sharing this store scan and act on each object
-- version once. A worker claims (store, key, etag, detector set) before it fetches the
-- object; the claim is its own until expires_at (renewed while the worker lives), and done
-- once the object is recorded. A claim whose worker died expires, and another worker takes
-- it. A full sweep's work items take claims done before the sweep began.
CREATE TABLE object_claims (
    store         TEXT NOT NULL,
    key           TEXT NOT NULL,
    etag          TEXT NOT NULL,
    ruleset_hash  TEXT NOT NULL,
    worker        TEXT NOT NULL,
    claimed_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    done_at       BIGINT,
    PRIMARY KEY (store, key, etag, ruleset_hash)
);
CREATE INDEX object_claims_by_worker ON object_claims (worker, done_at);
