-- Version 2: the ETag (or, for local files, size and modification time) each object was
-- scanned at, so a sweep can skip objects unchanged since their last scan.
ALTER TABLE objects ADD COLUMN etag TEXT;
CREATE INDEX objects_unchanged ON objects (store, key, etag, ruleset_hash);
