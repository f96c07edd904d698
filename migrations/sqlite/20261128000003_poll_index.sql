-- The status poller leases calls by status and due time; without this index each lease read
-- every call waiting at the provider, so dispatch slowed with the square of the calls in flight
-- (benches/suite.rs row 6: 252 -> ~650 calls/s at 10,000 calls).
CREATE INDEX phone_calls_poll ON phone_calls (status, next_poll_at);
