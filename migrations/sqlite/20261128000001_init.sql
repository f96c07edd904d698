-- scfm schema. Timestamps are ISO 8601 UTC text with milliseconds ("2017-11-09T04:58:03.684Z"),
-- which sorts correctly as text and renders as the API shows it. JSON columns are TEXT holding a
-- JSON object; key order is preserved as received. AUTOINCREMENT keeps ids from being reused after a
-- delete (the SCFM contract: ids are per-table sequences, never reused).

CREATE TABLE contacts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    msisdn      TEXT    NOT NULL,
    metadata    TEXT    NOT NULL DEFAULT '{}',
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE UNIQUE INDEX contacts_msisdn ON contacts (msisdn);

CREATE TABLE callouts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    status           TEXT    NOT NULL DEFAULT 'initialized',
    call_flow_logic  TEXT,
    metadata         TEXT    NOT NULL DEFAULT '{}',
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL
);

CREATE TABLE batch_operations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    callout_id  INTEGER REFERENCES callouts (id),
    type        TEXT    NOT NULL,
    parameters  TEXT    NOT NULL DEFAULT '{}',
    metadata    TEXT    NOT NULL DEFAULT '{}',
    status      TEXT    NOT NULL DEFAULT 'preview',
    -- When a worker claimed the run (status running); a run whose claim is older than the lease is
    -- taken over after a crash. Population and the other runs are idempotent, so a re-run is safe.
    claimed_at  TEXT,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX batch_operations_callout_id ON batch_operations (callout_id);
CREATE INDEX batch_operations_status ON batch_operations (status) WHERE status IN ('queued', 'running');

CREATE TABLE callout_participations (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    callout_id             INTEGER NOT NULL REFERENCES callouts (id),
    contact_id             INTEGER NOT NULL REFERENCES contacts (id),
    callout_population_id  INTEGER REFERENCES batch_operations (id),
    msisdn                 TEXT    NOT NULL,
    call_flow_logic        TEXT,
    metadata               TEXT    NOT NULL DEFAULT '{}',
    created_at             TEXT    NOT NULL,
    updated_at             TEXT    NOT NULL
);
CREATE UNIQUE INDEX callout_participations_callout_contact ON callout_participations (callout_id, contact_id);
CREATE UNIQUE INDEX callout_participations_callout_msisdn ON callout_participations (callout_id, msisdn);
CREATE INDEX callout_participations_contact_id ON callout_participations (contact_id);
CREATE INDEX callout_participations_population ON callout_participations (callout_population_id);

CREATE TABLE phone_calls (
    id                                     INTEGER PRIMARY KEY AUTOINCREMENT,
    callout_participation_id               INTEGER REFERENCES callout_participations (id),
    contact_id                             INTEGER NOT NULL REFERENCES contacts (id),
    create_batch_operation_id              INTEGER REFERENCES batch_operations (id),
    queue_batch_operation_id               INTEGER REFERENCES batch_operations (id),
    queue_remote_fetch_batch_operation_id  INTEGER REFERENCES batch_operations (id),
    status                                 TEXT    NOT NULL DEFAULT 'created',
    msisdn                                 TEXT    NOT NULL,
    remote_call_id                         TEXT,
    remote_status                          TEXT,
    remote_direction                       TEXT,
    remote_error_message                   TEXT,
    metadata                               TEXT    NOT NULL DEFAULT '{}',
    remote_response                        TEXT    NOT NULL DEFAULT '{}',
    remote_request_params                  TEXT    NOT NULL DEFAULT '{}',
    remote_queue_response                  TEXT    NOT NULL DEFAULT '{}',
    call_flow_logic                        TEXT,
    remotely_queued_at                     TEXT,
    -- Dialling bookkeeping (not part of the SCFM JSON): the durable intent recorded before the
    -- provider request, so a crash between request and answer is reconciled, never redialled.
    dial_attempt_id                        TEXT,
    dial_started_at                        TEXT,
    next_poll_at                           TEXT,
    created_at                             TEXT    NOT NULL,
    updated_at                             TEXT    NOT NULL
);
CREATE UNIQUE INDEX phone_calls_remote_call_id ON phone_calls (remote_call_id COLLATE NOCASE)
    WHERE remote_call_id IS NOT NULL;
CREATE INDEX phone_calls_participation ON phone_calls (callout_participation_id);
CREATE INDEX phone_calls_contact ON phone_calls (contact_id);
CREATE INDEX phone_calls_status ON phone_calls (status);
CREATE INDEX phone_calls_create_bo ON phone_calls (create_batch_operation_id) WHERE create_batch_operation_id IS NOT NULL;
CREATE INDEX phone_calls_queue_bo ON phone_calls (queue_batch_operation_id) WHERE queue_batch_operation_id IS NOT NULL;
CREATE INDEX phone_calls_fetch_bo ON phone_calls (queue_remote_fetch_batch_operation_id) WHERE queue_remote_fetch_batch_operation_id IS NOT NULL;

CREATE TABLE remote_phone_call_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    phone_call_id     INTEGER NOT NULL REFERENCES phone_calls (id),
    details           TEXT    NOT NULL DEFAULT '{}',
    metadata          TEXT    NOT NULL DEFAULT '{}',
    remote_call_id    TEXT    NOT NULL,
    remote_direction  TEXT    NOT NULL,
    call_flow_logic   TEXT    NOT NULL,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL
);
CREATE INDEX remote_phone_call_events_phone_call ON remote_phone_call_events (phone_call_id);
