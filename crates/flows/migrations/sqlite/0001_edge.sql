-- The flow trail's durable namespace edge set: one row per (src_ns, dst_ns, action).
-- Same columns, key and indexes as the PostgreSQL table; timestamps are INTEGER Unix seconds.
CREATE TABLE IF NOT EXISTS edge (
    src_ns     TEXT    NOT NULL,
    dst_ns     TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    flow_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (src_ns, dst_ns, action)
);

CREATE INDEX IF NOT EXISTS edge_first_seen_idx ON edge (first_seen);
CREATE INDEX IF NOT EXISTS edge_dst_ns_idx ON edge (dst_ns);
