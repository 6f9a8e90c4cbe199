-- Version 3: last mile. A last-mile connection keeps its on-premises site (JSON, the MD5
-- password sealed inside); a provider edge names its customer-facing interface.
ALTER TABLE connections ADD COLUMN last_mile TEXT;
ALTER TABLE gateways ADD COLUMN access_interface TEXT;
-- Which of a last-mile connection's customer sessions a link carries (0 or 1); 0 otherwise.
ALTER TABLE links ADD COLUMN slot INTEGER NOT NULL DEFAULT 0;
