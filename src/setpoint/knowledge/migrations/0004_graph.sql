-- 0004 knowledge graph, portable: SQLite and PostgreSQL run this file as is.
-- Nodes are problems, solutions, patterns, insights, tools and runbook sections; edges
-- are typed relations between them. An embedding is the base64 text of little-endian
-- float32 bytes (portable where BLOB and BYTEA differ), tagged with the embedder that
-- made it; embedded_seq numbers embeddings in the order they were stored, so a reader
-- can load only those newer than the last it saw.

CREATE TABLE graph_nodes (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    attrs TEXT NOT NULL DEFAULT '{}',
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    embedder TEXT,
    embedding TEXT,
    embedded_seq BIGINT
);
CREATE INDEX graph_nodes_kind ON graph_nodes (kind, updated_at);
CREATE INDEX graph_nodes_embedded ON graph_nodes (embedder, embedded_seq);

CREATE TABLE graph_edges (
    src TEXT NOT NULL REFERENCES graph_nodes (id),
    dst TEXT NOT NULL REFERENCES graph_nodes (id),
    kind TEXT NOT NULL,
    weight DOUBLE PRECISION NOT NULL DEFAULT 1,
    successes INTEGER NOT NULL DEFAULT 0,
    partials INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    attrs TEXT NOT NULL DEFAULT '{}',
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (src, dst, kind)
);
CREATE INDEX graph_edges_dst ON graph_edges (dst, kind);
