-- Version 5: a link's identity apart from its numbers. A link keeps its id (never reused: its
-- keys derive from it) and holds a VNI, a UDP port and the numbers of its IPv4 /31 and IPv6
-- /127, each taken from a pool when the link is planned and returned when it is removed. A
-- number is unique among the links of each gateway (the primary key below), so a link takes
-- the lowest number free on both of its gateways.
ALTER TABLE links ADD COLUMN vni INTEGER NOT NULL DEFAULT 0;
ALTER TABLE links ADD COLUMN port INTEGER NOT NULL DEFAULT 0;
ALTER TABLE links ADD COLUMN v4 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE links ADD COLUMN v6 INTEGER NOT NULL DEFAULT 0;

CREATE TABLE link_numbers (
    gateway TEXT NOT NULL,
    pool    TEXT NOT NULL,                 -- vni | port | v4 | v6
    number  INTEGER NOT NULL,
    link_id INTEGER NOT NULL REFERENCES links(id) ON DELETE CASCADE,
    PRIMARY KEY (gateway, pool, number)
) WITHOUT ROWID;
CREATE INDEX link_numbers_link ON link_numbers(link_id);

-- Links planned before this version keep the numbers their id gave them (the id was the VNI,
-- numbered the /31 and was the port minus 10000), so upgrading moves nothing.
UPDATE links SET vni = id, port = 10000 + id, v4 = id, v6 = id;
INSERT OR IGNORE INTO link_numbers (gateway, pool, number, link_id)
    SELECT g, p, n, id FROM (
        SELECT gateway_a AS g, 'vni' AS p, vni AS n, id FROM links
        UNION ALL SELECT gateway_b, 'vni', vni, id FROM links
        UNION ALL SELECT gateway_a, 'port', port, id FROM links
        UNION ALL SELECT gateway_b, 'port', port, id FROM links
        UNION ALL SELECT gateway_a, 'v4', v4, id FROM links
        UNION ALL SELECT gateway_b, 'v4', v4, id FROM links
        UNION ALL SELECT gateway_a, 'v6', v6, id FROM links
        UNION ALL SELECT gateway_b, 'v6', v6, id FROM links
    );

-- Where each gateway's search for a free number of a pool may start: every number of the pool
-- below `floor` is held by the gateway (a lower bound, kept by the store: raised as numbers are
-- taken, lowered by the trigger below as they come back). Without a row, the pool's start.
CREATE TABLE link_number_floors (
    gateway TEXT NOT NULL,
    pool    TEXT NOT NULL,
    floor   INTEGER NOT NULL,
    PRIMARY KEY (gateway, pool)
) WITHOUT ROWID;

CREATE TRIGGER link_number_returned AFTER DELETE ON link_numbers
BEGIN
    UPDATE link_number_floors SET floor = old.number
    WHERE gateway = old.gateway AND pool = old.pool AND floor > old.number;
END;
