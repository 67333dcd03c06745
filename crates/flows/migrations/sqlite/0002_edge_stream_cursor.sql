-- The aggregator's resume cursor (Unix seconds), written in the same transaction as the
-- edges of each flush.
CREATE TABLE IF NOT EXISTS edge_stream_cursor (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    bucket_end INTEGER NOT NULL
);
