-- Journal entries as recorded, before they are chained: the same table and meaning as
-- migrations/sqlite/20261204000016_journal_inbox.sql (comments there). On PostgreSQL this is
-- what lets journaled writes of several processes run side by side: before it, each took the
-- head's row lock for its whole transaction.
--
-- Ids come from a sequence, so they are handed out in insert order, not commit order: an entry
-- can commit after one with a higher id was sealed. The sealer takes what is committed, in id
-- order; a change made after another committed (an approval, then the start it allows) always
-- inserts its entry after the other's was visible, with a higher id, so the chain keeps the
-- order of changes that depend on each other.
CREATE TABLE journal_inbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          text COLLATE "C" NOT NULL,
    actor       text COLLATE "C" NOT NULL,
    action      text COLLATE "C" NOT NULL,
    subject     text COLLATE "C" NOT NULL,
    callout_id  bigint,
    details     text COLLATE "C" NOT NULL
);

CREATE FUNCTION journal_inbox_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'journal entries are not changed';
END $$;
CREATE TRIGGER journal_inbox_no_update BEFORE UPDATE ON journal_inbox
    FOR EACH ROW EXECUTE FUNCTION journal_inbox_unchanged();
