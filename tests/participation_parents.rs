//! A participation's parents (callout, contact, population) are enforced by the database on
//! both engines: SQLite by its declared foreign keys, PostgreSQL by the statement triggers of
//! migration 0015 that replaced them (one set check per statement instead of one per row). The
//! same writes fail the same way: a missing parent on insert or update, a delete (or id change)
//! of a parent still referenced; each as `StoreError::ForeignKey`. Run with
//! `SCFM_TEST_DATABASE` set for PostgreSQL.

#![allow(clippy::unwrap_used)]

use scfm::store::engine::Db;
use scfm::store::{Location, Store, StoreError};

async fn exec(store: &Store, sql: &str) -> Result<u64, StoreError> {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    let r = match store.db() {
        Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
        Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
    };
    r.map_err(StoreError::from)
}

fn fk(r: Result<u64, StoreError>, what: &str) {
    assert!(matches!(r, Err(StoreError::ForeignKey)), "{what}: {r:?}");
}

const T: &str = "'2026-12-04T00:00:00.000Z'";

fn participation(callout: i64, contact: i64, population: &str, msisdn: &str) -> String {
    format!(
        "INSERT INTO callout_participations (callout_id, contact_id, callout_population_id, msisdn, \
         created_at, updated_at) VALUES ({callout}, {contact}, {population}, '{msisdn}', {T}, {T})"
    )
}

#[tokio::test]
async fn parents_are_enforced_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(Location::for_tests(&dir.path().join("scfm.sqlite3")))
        .await
        .unwrap();
    for sql in [
        format!("INSERT INTO callouts (created_at, updated_at) VALUES ({T}, {T})"),
        format!("INSERT INTO callouts (created_at, updated_at) VALUES ({T}, {T})"),
        format!(
            "INSERT INTO contacts (msisdn, created_at, updated_at) VALUES ('+85510000001', {T}, {T})"
        ),
        format!(
            "INSERT INTO contacts (msisdn, created_at, updated_at) VALUES ('+85510000002', {T}, {T})"
        ),
        format!(
            "INSERT INTO batch_operations (callout_id, type, created_at, updated_at) \
             VALUES (1, 'BatchOperation::CalloutPopulation', {T}, {T})"
        ),
    ] {
        assert_eq!(exec(&store, &sql).await.unwrap(), 1, "{sql}");
    }

    // Missing parents on insert, one row or many.
    fk(
        exec(&store, &participation(9, 1, "NULL", "+85510000001")).await,
        "callout",
    );
    fk(
        exec(&store, &participation(1, 9, "NULL", "+85510000001")).await,
        "contact",
    );
    fk(
        exec(&store, &participation(1, 1, "9", "+85510000001")).await,
        "population",
    );
    fk(
        exec(
            &store,
            &format!(
                "INSERT INTO callout_participations (callout_id, contact_id, callout_population_id, \
                 msisdn, created_at, updated_at) \
                 SELECT 1, id + 1, 1, msisdn, {T}, {T} FROM contacts ORDER BY id"
            ),
        )
        .await,
        "a set insert with one contact missing",
    );
    let rows = match store.db() {
        Db::Sqlite(p) => {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM callout_participations")
                .fetch_one(p)
                .await
                .unwrap()
        }
        Db::Postgres(p) => {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM callout_participations")
                .fetch_one(p)
                .await
                .unwrap()
        }
    };
    assert_eq!(rows, 0, "no row of a failed insert is left");

    // Present parents: a population's rows (the set insert) and one without a population.
    let set = format!(
        "INSERT INTO callout_participations (callout_id, contact_id, callout_population_id, msisdn, \
         created_at, updated_at) SELECT 1, id, 1, msisdn, {T}, {T} FROM contacts ORDER BY id"
    );
    assert_eq!(exec(&store, &set).await.unwrap(), 2);
    assert_eq!(
        exec(&store, &participation(2, 1, "NULL", "+85510000001"))
            .await
            .unwrap(),
        1
    );

    // A parent changed to a missing one.
    fk(
        exec(
            &store,
            "UPDATE callout_participations SET contact_id = 9 WHERE callout_id = 2",
        )
        .await,
        "update to a missing contact",
    );
    fk(
        exec(
            &store,
            "UPDATE callout_participations SET callout_id = 9 WHERE callout_id = 2",
        )
        .await,
        "update to a missing callout",
    );
    fk(
        exec(
            &store,
            "UPDATE callout_participations SET callout_population_id = 9 WHERE callout_id = 2",
        )
        .await,
        "update to a missing population",
    );
    // Other columns (as the call summary triggers write them) are not checked.
    assert_eq!(
        exec(&store, "UPDATE callout_participations SET msisdn = msisdn")
            .await
            .unwrap(),
        3
    );

    // Referenced parents cannot go, nor change their id.
    fk(
        exec(&store, "DELETE FROM contacts WHERE id = 1").await,
        "delete a contact",
    );
    fk(
        exec(&store, "DELETE FROM callouts WHERE id = 2").await,
        "delete a callout",
    );
    fk(
        exec(&store, "DELETE FROM batch_operations WHERE id = 1").await,
        "delete a population",
    );
    fk(
        exec(&store, "UPDATE contacts SET id = 10 WHERE id = 2").await,
        "renumber a contact",
    );
    fk(
        exec(&store, "UPDATE callouts SET id = 10 WHERE id = 2").await,
        "renumber a callout",
    );
    fk(
        exec(&store, "UPDATE batch_operations SET id = 10 WHERE id = 1").await,
        "renumber a population",
    );
    // Unreferenced changes of the parents go through.
    assert_eq!(
        exec(&store, "UPDATE contacts SET msisdn = msisdn")
            .await
            .unwrap(),
        2
    );

    // Once the participations are gone, so can the parents be.
    assert_eq!(
        exec(&store, "DELETE FROM callout_participations")
            .await
            .unwrap(),
        3
    );
    for sql in [
        "DELETE FROM contacts WHERE id = 1",
        "DELETE FROM batch_operations WHERE id = 1",
        "DELETE FROM callouts WHERE id = 2",
    ] {
        assert_eq!(exec(&store, sql).await.unwrap(), 1, "{sql}");
    }
    store.close().await;
}
