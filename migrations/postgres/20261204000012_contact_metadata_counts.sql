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

-- Each statement below reads a contact's pairs the same way: its metadata cast to jsonb once
-- (the `OFFSET 0` keeps the planner from repeating the cast for each use), its top-level
-- string members (anything but an object gives none).
INSERT INTO contact_metadata_counts (key, value, n)
SELECT j.key, j.value #>> '{}', count(*)
  FROM (SELECT c.metadata::jsonb AS m FROM contacts c OFFSET 0) AS x,
       jsonb_each(CASE WHEN jsonb_typeof(x.m) = 'object' THEN x.m ELSE '{}' END) AS j
 WHERE jsonb_typeof(j.value) = 'string'
 GROUP BY 1, 2;

CREATE FUNCTION contact_metadata_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_metadata_counts (key, value, n)
    SELECT j.key, j.value #>> '{}', count(*)
      FROM (SELECT c.metadata::jsonb AS m FROM new_rows c OFFSET 0) AS x,
           jsonb_each(CASE WHEN jsonb_typeof(x.m) = 'object' THEN x.m ELSE '{}' END) AS j
     WHERE jsonb_typeof(j.value) = 'string'
     GROUP BY 1, 2;
    RETURN NULL;
END $$;

CREATE FUNCTION contact_metadata_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_metadata_counts (key, value, n)
    SELECT j.key, j.value #>> '{}', sum(x.d)
      FROM (SELECT o.metadata::jsonb AS m, -1 AS d
              FROM old_rows o JOIN new_rows c ON c.id = o.id WHERE o.metadata <> c.metadata
            UNION ALL
            SELECT c.metadata::jsonb, 1
              FROM new_rows c JOIN old_rows o ON o.id = c.id WHERE o.metadata <> c.metadata
            OFFSET 0) AS x,
           jsonb_each(CASE WHEN jsonb_typeof(x.m) = 'object' THEN x.m ELSE '{}' END) AS j
     WHERE jsonb_typeof(j.value) = 'string'
     GROUP BY 1, 2
    HAVING sum(x.d) <> 0;
    RETURN NULL;
END $$;

CREATE FUNCTION contact_metadata_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_metadata_counts (key, value, n)
    SELECT j.key, j.value #>> '{}', -count(*)
      FROM (SELECT c.metadata::jsonb AS m FROM old_rows c OFFSET 0) AS x,
           jsonb_each(CASE WHEN jsonb_typeof(x.m) = 'object' THEN x.m ELSE '{}' END) AS j
     WHERE jsonb_typeof(j.value) = 'string'
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
