-- The vendor rate limits' shared buckets (docs/postgres.md, "Vendor rate limits across nodes"):
-- one row per app and credential with a `rate_limit`, holding its GCRA state; every node leases
-- blocks of units from it with one UPSERT per block. Times are the database's clock, in
-- microseconds since the Unix epoch, so the nodes' clocks never meet.
-- `kind` is the credential's kind (`apns`, `xiaomi`, `huawei`, `fcm`): both APNs environments
-- share their credential's bucket. A removed credential's row stays (a few bytes); no foreign
-- key, so a bucket never waits on the apps table's locks.
-- Fill factor 50: the row is rewritten about ten times a second per busy node, and free room on
-- its page keeps those updates HOT (no index write).
CREATE TABLE rate_buckets (
    app_id TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    credential TEXT COLLATE "C" NOT NULL,
    -- The theoretical arrival time: when the bucket is full again if nothing more is taken.
    tat_us BIGINT NOT NULL,
    -- Whether the last lease was granted (so that its UPSERT can return its decision).
    granted BOOLEAN NOT NULL,
    PRIMARY KEY (app_id, kind, credential)
) WITH (fillfactor = 50);
