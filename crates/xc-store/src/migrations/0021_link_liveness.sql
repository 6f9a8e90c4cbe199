-- Version 21: a connection's link liveness as its owner set it (JSON: {"intervalMs", "multiplier"};
-- NULL: the default).
ALTER TABLE connections ADD COLUMN link_liveness TEXT;
