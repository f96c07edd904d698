-- The SMS fallback (issue 15): one text per participation, at most. The UNIQUE constraint on
-- the participation is what makes "never two texts to one person for one callout" hold for
-- every process on the database, through crashes: the runner inserts with ON CONFLICT DO
-- NOTHING, and a text is claimed (pending -> sending) by one conditional UPDATE before its
-- create request is sent.
--
-- status: pending | sending | queued | sent | delivered | undelivered | failed | unknown
-- (domain::sms_fallback). claimed_at: when it went to sending (a reconciliation lists the
-- provider's messages to the number since then). next_poll_at: when a text at the provider
-- and not final is next fetched.
CREATE TABLE text_messages (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    callout_participation_id  INTEGER NOT NULL UNIQUE
                              REFERENCES callout_participations (id) ON DELETE CASCADE,
    callout_id                INTEGER NOT NULL REFERENCES callouts (id) ON DELETE CASCADE,
    contact_id                INTEGER NOT NULL,
    msisdn                    TEXT    NOT NULL,
    sender                    TEXT    NOT NULL,
    body                      TEXT    NOT NULL,
    segments                  INTEGER NOT NULL,
    status                    TEXT    NOT NULL DEFAULT 'pending',
    remote_message_id         TEXT,
    remote_status             TEXT,
    error_code                TEXT,
    error_message             TEXT,
    claimed_at                TEXT,
    sent_at                   TEXT,
    next_poll_at              TEXT,
    created_at                TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL
);

CREATE INDEX text_messages_callout_status ON text_messages (callout_id, status, id);
CREATE UNIQUE INDEX text_messages_remote ON text_messages (remote_message_id)
    WHERE remote_message_id IS NOT NULL;
CREATE INDEX text_messages_poll ON text_messages (next_poll_at)
    WHERE next_poll_at IS NOT NULL;
-- What the sender claims next, and what reconciliation looks at after a crash.
CREATE INDEX text_messages_open ON text_messages (status, callout_id)
    WHERE status IN ('pending', 'sending');
