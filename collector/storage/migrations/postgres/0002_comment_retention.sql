-- Retention (issue 8): `collector purge` blanks comments older than the service's
-- retention_days. The rating stays, and so does its place in the comment counts: a
-- rebuild of the rollups counts a rating whose comment was purged as one with a comment.
ALTER TABLE ratings ADD COLUMN comment_purged_at BIGINT;  -- milliseconds since the epoch

-- What a purge reads: only rows that still have a comment, oldest first, so a daily run
-- touches the few comments that came of age, not every old rating again.
CREATE INDEX ratings_comments_by_time ON ratings (service, received_at) WHERE comment <> '';
