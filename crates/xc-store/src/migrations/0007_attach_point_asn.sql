-- Version 7: attach points take a distinct private ASN by default: the next one is found by
-- this index.
CREATE INDEX attach_points_asn ON attach_points(asn);
