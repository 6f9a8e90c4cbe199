-- Version 13: the operator's quota values per account (`xc_types::api::quotas::QuotaName`); a
-- quota without a row has its default.
CREATE TABLE account_quotas (
    account_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) WITHOUT ROWID;
