-- The aggregator's resume cursor: the end of the newest Goldmane bucket whose flows are all
-- in `edge`. Written in the same statement as the edges of each flush, so a reconnect resumes
-- with `start_time_gte = bucket_end` and neither loses nor double-counts flows.
CREATE TABLE IF NOT EXISTS edge_stream_cursor (
    id         smallint    PRIMARY KEY CHECK (id = 1),
    bucket_end timestamptz NOT NULL
);
