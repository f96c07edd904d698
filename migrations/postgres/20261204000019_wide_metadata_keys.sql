-- Keys too varied to count by pair (issue 12, benchmark P1). The counts of migration 0012 keep a
-- delta row per (key, value) each statement changes; for a key whose values are nearly all
-- distinct (names, national ids) that is one delta row per contact, and it doubled the cost of
-- an import (a 200,000-row INSERT … SELECT: 1.8 s without the trigger, 3.3-4.1 s with it).
--
-- A statement that brings more than 1,000 distinct string values of one key marks the key here,
-- drops its deltas, and from then on no deltas are kept for it. A preview count on a marked key
-- is answered by the GIN index instead (`store::contacts::count`): a value of such a key
-- matches few contacts, so visiting them is cheap. Marks are never removed, so a reader either
-- sees the mark (and ignores every delta of the key, stale ones included) or sees none of the
-- statements that skipped deltas because of it: exact either way.
CREATE TABLE contact_metadata_wide_keys (
    key  text COLLATE "C" PRIMARY KEY
);

-- Above this many distinct values of one key in one statement, the key is wide.
CREATE FUNCTION contact_metadata_wide_after() RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT 1000::bigint';

CREATE OR REPLACE FUNCTION contact_metadata_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH pairs AS (
        SELECT j.key, j.value #>> '{}' AS value, count(*) AS n
          FROM (SELECT c.metadata::jsonb AS m FROM new_rows c OFFSET 0) AS x,
               jsonb_each(CASE WHEN jsonb_typeof(x.m) = 'object' THEN x.m ELSE '{}' END) AS j
         WHERE jsonb_typeof(j.value) = 'string'
           AND NOT EXISTS (SELECT 1 FROM contact_metadata_wide_keys w WHERE w.key = j.key)
         GROUP BY 1, 2
    ), wide AS (
        INSERT INTO contact_metadata_wide_keys (key)
        SELECT key FROM pairs GROUP BY key HAVING count(*) > contact_metadata_wide_after()
        ON CONFLICT DO NOTHING
        RETURNING key
    ), dropped AS (
        DELETE FROM contact_metadata_counts WHERE key IN (SELECT key FROM wide)
    )
    INSERT INTO contact_metadata_counts (key, value, n)
    SELECT key, value, n FROM pairs WHERE key NOT IN (SELECT key FROM wide);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION contact_metadata_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
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
       AND NOT EXISTS (SELECT 1 FROM contact_metadata_wide_keys w WHERE w.key = j.key)
     GROUP BY 1, 2
    HAVING sum(x.d) <> 0;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION contact_metadata_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_metadata_counts (key, value, n)
    SELECT j.key, j.value #>> '{}', -count(*)
      FROM (SELECT c.metadata::jsonb AS m FROM old_rows c OFFSET 0) AS x,
           jsonb_each(CASE WHEN jsonb_typeof(x.m) = 'object' THEN x.m ELSE '{}' END) AS j
     WHERE jsonb_typeof(j.value) = 'string'
       AND NOT EXISTS (SELECT 1 FROM contact_metadata_wide_keys w WHERE w.key = j.key)
     GROUP BY 1, 2;
    RETURN NULL;
END $$;
