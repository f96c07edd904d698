-- Counts of contacts per top-level metadata string, so a preview count on any key
-- (`metadata.<key> = <text>`) reads a few rows instead of visiting every matching contact (the
-- GIN index finds them, but count(*) must still fetch each heap row: 300-1000 ms at 1,000,000
-- contacts). Issue 12, benchmark row P3.
--
-- The table holds signed deltas, not one counter per pair: each statement that writes contacts
-- appends one row per (key, value) it changed (statement-level triggers over the transition
-- tables), so concurrent writers never wait on a shared counter row, and the deltas become
-- visible exactly when the contacts they describe do (same transaction). The count of a pair is
-- the sum of its rows in the reader's snapshot: exact under any concurrency.
-- `store::contacts::count` folds a pair's rows into one when it finds many.
--
-- A pair is counted with the semantics of the filter it answers (`store/filter.rs`: a value only
-- a JSON string can equal becomes `metadata::jsonb @> {"key": "value"}`): top-level members of
-- the `jsonb` value (the last of repeated keys) whose value is a string, by its content.
CREATE TABLE contact_metadata_counts (
    key    text COLLATE "C" NOT NULL,
    value  text COLLATE "C" NOT NULL,
    n      bigint NOT NULL
);
CREATE INDEX contact_metadata_counts_pair ON contact_metadata_counts (key, value) INCLUDE (n);

-- The (key, value) pairs of one contact's metadata text.
CREATE FUNCTION contact_metadata_pairs(metadata text)
RETURNS TABLE (key text, value text) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT j.key, j.value #>> '{}'
    FROM jsonb_each(CASE WHEN jsonb_typeof(metadata::jsonb) = 'object'
                         THEN metadata::jsonb ELSE '{}'::jsonb END) AS j
    WHERE jsonb_typeof(j.value) = 'string'
$$;

INSERT INTO contact_metadata_counts (key, value, n)
SELECT p.key, p.value, count(*) FROM contacts c, contact_metadata_pairs(c.metadata) p
GROUP BY 1, 2;

CREATE FUNCTION contact_metadata_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_metadata_counts (key, value, n)
    SELECT p.key, p.value, count(*) FROM new_rows c, contact_metadata_pairs(c.metadata) p
    GROUP BY 1, 2;
    RETURN NULL;
END $$;

CREATE FUNCTION contact_metadata_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_metadata_counts (key, value, n)
    SELECT d.key, d.value, sum(d.n) FROM (
        SELECT p.key, p.value, -1 AS n
          FROM old_rows o JOIN new_rows c ON c.id = o.id, contact_metadata_pairs(o.metadata) p
         WHERE o.metadata <> c.metadata
        UNION ALL
        SELECT p.key, p.value, 1
          FROM new_rows c JOIN old_rows o ON o.id = c.id, contact_metadata_pairs(c.metadata) p
         WHERE o.metadata <> c.metadata
    ) AS d
    GROUP BY 1, 2
    HAVING sum(d.n) <> 0;
    RETURN NULL;
END $$;

CREATE FUNCTION contact_metadata_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_metadata_counts (key, value, n)
    SELECT p.key, p.value, -count(*) FROM old_rows c, contact_metadata_pairs(c.metadata) p
    GROUP BY 1, 2;
    RETURN NULL;
END $$;

CREATE TRIGGER contact_metadata_counts_ai AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contact_metadata_counts_insert();
CREATE TRIGGER contact_metadata_counts_au AFTER UPDATE ON contacts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contact_metadata_counts_update();
CREATE TRIGGER contact_metadata_counts_ad AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contact_metadata_counts_delete();
