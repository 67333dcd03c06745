-- The flow trail's durable namespace edge set: one row per (src_ns, dst_ns, action).
--
-- Exactly the original goldmane-edge-aggregator table (its migrations/0001_edge.sql), so an
-- existing table is adopted as it is (rows kept) and existing queries and runbooks keep
-- working. Everything is IF NOT EXISTS: the migration is a no-op on an adopted table apart
-- from the two indexes.
CREATE TABLE IF NOT EXISTS edge (
    src_ns     text        NOT NULL,
    dst_ns     text        NOT NULL,
    action     text        NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    flow_count bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (src_ns, dst_ns, action)
);

-- `homelab edges` lists newest first_seen first; the digest and --new-since filter on it.
CREATE INDEX IF NOT EXISTS edge_first_seen_idx ON edge (first_seen);
-- --dst (ingress peers); --src is served by the primary key's leading column.
CREATE INDEX IF NOT EXISTS edge_dst_ns_idx ON edge (dst_ns);
