-- The parents of callout_participations (callout, contact, population) checked once per
-- statement instead of once per row.
--
-- A declared foreign key is checked by a row trigger: one lookup and one FOR KEY SHARE of the
-- parent per inserted row, each its own SPI query. Populating a callout from 1,000,000 contacts
-- spent more time there than in the insert itself (EXPLAIN ANALYZE, docs/BENCHMARKS.md, P2:
-- 6-8 s per key, 20 s of a 36.5 s statement). The same checks as set statements over the
-- statement's new rows take 4.3 s for all three keys (most of it locking the 1,000,000
-- contacts, which the foreign key did too).
--
-- Same guarantees as the foreign keys they replace (read committed, as scfm runs):
-- - insert: every non-NULL parent id must exist, and each parent row is locked FOR KEY SHARE
--   until commit, exactly as the foreign key's check does, so `FOR UPDATE` on the parent (a
--   restricted delete, `store::locks`) waits for the insert, and an insert after a committed
--   delete of its parent fails; the check runs at the end of the statement, where the foreign
--   key's queued row triggers ran too. Parents are locked in the documented order (callout,
--   contact, batch operation).
-- - update of a parent id on a participation (scfm never does one): checked per row.
-- - delete or id change of a parent that participations still reference: refused.
-- Errors are SQLSTATE 23503 (foreign_key_violation) naming the old constraints, so callers see
-- what they saw before. SQLite keeps its declared foreign keys (checked in the insert itself,
-- cheap there).

ALTER TABLE callout_participations
    DROP CONSTRAINT callout_participations_callout_id_fkey,
    DROP CONSTRAINT callout_participations_contact_id_fkey,
    DROP CONSTRAINT callout_participations_callout_population_id_fkey;

CREATE FUNCTION scfm_missing_parent(child_col text, parent text, id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'insert or update on table "callout_participations" violates foreign key constraint "callout_participations_%_fkey"', child_col
        USING ERRCODE = 'foreign_key_violation',
              CONSTRAINT = format('callout_participations_%s_fkey', child_col),
              TABLE = 'callout_participations',
              DETAIL = format('Key (%s)=(%s) is not present in table "%s".', child_col, id, parent);
END $$;

-- AFTER INSERT, per statement: `added` holds the statement's new rows. Two passes over them,
-- whatever their number: one collects the few distinct callouts and populations (and counts the
-- rows), one joins the contacts and locks them in the rows' order (a population's rows come in
-- contact id order, so the contacts table is read in order, not at random).
CREATE FUNCTION callout_participations_parents() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    callout_ids bigint[];
    population_ids bigint[];
    total bigint;
    locked bigint;
    missing bigint;
BEGIN
    SELECT array_agg(DISTINCT callout_id),
           coalesce(array_agg(DISTINCT callout_population_id)
                    FILTER (WHERE callout_population_id IS NOT NULL), '{}'),
           coalesce(sum(n), 0)
      INTO callout_ids, population_ids, total
      FROM (SELECT callout_id, callout_population_id, count(*) AS n
              FROM added GROUP BY callout_id, callout_population_id) g;
    IF total = 0 THEN
        RETURN NULL;
    END IF;

    SELECT count(*) INTO locked FROM (
        SELECT 1 FROM callouts p WHERE p.id = ANY (callout_ids) FOR KEY SHARE OF p
    ) l;
    IF locked < cardinality(callout_ids) THEN
        SELECT x INTO missing FROM unnest(callout_ids) x
        WHERE NOT EXISTS (SELECT 1 FROM callouts p WHERE p.id = x) LIMIT 1;
        PERFORM scfm_missing_parent('callout_id', 'callouts', missing);
    END IF;

    SELECT count(*) INTO locked FROM (
        SELECT 1 FROM added a,
            LATERAL (SELECT 1 FROM contacts p WHERE p.id = a.contact_id FOR KEY SHARE) c
    ) l;
    IF locked < total THEN
        SELECT a.contact_id INTO missing FROM added a
        WHERE NOT EXISTS (SELECT 1 FROM contacts p WHERE p.id = a.contact_id) LIMIT 1;
        PERFORM scfm_missing_parent('contact_id', 'contacts', missing);
    END IF;

    SELECT count(*) INTO locked FROM (
        SELECT 1 FROM batch_operations p WHERE p.id = ANY (population_ids) FOR KEY SHARE OF p
    ) l;
    IF locked < cardinality(population_ids) THEN
        SELECT x INTO missing FROM unnest(population_ids) x
        WHERE NOT EXISTS (SELECT 1 FROM batch_operations p WHERE p.id = x) LIMIT 1;
        PERFORM scfm_missing_parent('callout_population_id', 'batch_operations', missing);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER callout_participations_parents AFTER INSERT ON callout_participations
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION callout_participations_parents();

-- A parent id changed on a participation: checked (and locked) row by row, like the foreign key.
-- Column-listed, so the summary triggers' updates of call_count and friends never fire it.
CREATE FUNCTION callout_participations_parents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.callout_id IS DISTINCT FROM OLD.callout_id
       AND NOT EXISTS (SELECT 1 FROM callouts p WHERE p.id = NEW.callout_id FOR KEY SHARE OF p) THEN
        PERFORM scfm_missing_parent('callout_id', 'callouts', NEW.callout_id);
    END IF;
    IF NEW.contact_id IS DISTINCT FROM OLD.contact_id
       AND NOT EXISTS (SELECT 1 FROM contacts p WHERE p.id = NEW.contact_id FOR KEY SHARE OF p) THEN
        PERFORM scfm_missing_parent('contact_id', 'contacts', NEW.contact_id);
    END IF;
    IF NEW.callout_population_id IS NOT NULL
       AND NEW.callout_population_id IS DISTINCT FROM OLD.callout_population_id
       AND NOT EXISTS (SELECT 1 FROM batch_operations p
                       WHERE p.id = NEW.callout_population_id FOR KEY SHARE OF p) THEN
        PERFORM scfm_missing_parent('callout_population_id', 'batch_operations', NEW.callout_population_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER callout_participations_parents_changed
    AFTER UPDATE OF callout_id, contact_id, callout_population_id ON callout_participations
    FOR EACH ROW EXECUTE FUNCTION callout_participations_parents_changed();

-- The parent side: a callout, contact or batch operation that participations still reference
-- cannot be deleted (per statement, `gone` holding the deleted rows) or given another id.
-- TG_ARGV[0] is the participations column that references the table.
CREATE FUNCTION scfm_participation_parent_gone() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    referenced bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        EXECUTE format('SELECT g.id FROM gone g WHERE EXISTS '
                       '(SELECT 1 FROM callout_participations cp WHERE cp.%I = g.id) LIMIT 1',
                       TG_ARGV[0])
            INTO referenced;
    ELSIF NEW.id IS DISTINCT FROM OLD.id THEN
        EXECUTE format('SELECT $1 WHERE EXISTS '
                       '(SELECT 1 FROM callout_participations cp WHERE cp.%I = $1)', TG_ARGV[0])
            INTO referenced USING OLD.id;
    END IF;
    IF referenced IS NOT NULL THEN
        RAISE EXCEPTION 'update or delete on table "%" violates foreign key constraint "callout_participations_%_fkey" on table "callout_participations"',
                TG_TABLE_NAME, TG_ARGV[0]
            USING ERRCODE = 'foreign_key_violation',
                  CONSTRAINT = format('callout_participations_%s_fkey', TG_ARGV[0]),
                  TABLE = TG_TABLE_NAME,
                  DETAIL = format('Key (id)=(%s) is still referenced from table "callout_participations".', referenced);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER callouts_participations_gone AFTER DELETE ON callouts
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION scfm_participation_parent_gone('callout_id');
CREATE TRIGGER callouts_participations_id AFTER UPDATE OF id ON callouts
    FOR EACH ROW EXECUTE FUNCTION scfm_participation_parent_gone('callout_id');
CREATE TRIGGER contacts_participations_gone AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION scfm_participation_parent_gone('contact_id');
CREATE TRIGGER contacts_participations_id AFTER UPDATE OF id ON contacts
    FOR EACH ROW EXECUTE FUNCTION scfm_participation_parent_gone('contact_id');
CREATE TRIGGER batch_operations_participations_gone AFTER DELETE ON batch_operations
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION scfm_participation_parent_gone('callout_population_id');
CREATE TRIGGER batch_operations_participations_id AFTER UPDATE OF id ON batch_operations
    FOR EACH ROW EXECUTE FUNCTION scfm_participation_parent_gone('callout_population_id');
