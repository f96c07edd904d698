//! Reading the domain records (`domain/records.rs`) from SQLite and PostgreSQL rows. The records stay plain
//! data: this file maps each column to the field of the same name, which is all the derive did.

use crate::domain::journal::Entry;
use crate::domain::{
    BatchOperation, Callout, Contact, Operator, Participation, PhoneCall, RemotePhoneCallEvent,
};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

/// `impl FromRow` for a record whose fields are all read from columns of the same name. The
/// struct literal must name every field, so a field added to the record and not here fails to
/// compile.
macro_rules! from_columns {
    ($record:ident { $($field:ident),* $(,)? }) => {
        impl<'r> sqlx::FromRow<'r, SqliteRow> for $record {
            fn from_row(row: &'r SqliteRow) -> Result<Self, sqlx::Error> {
                Ok($record {
                    $($field: row.try_get(stringify!($field))?,)*
                })
            }
        }
        // PostgreSQL keeps JSON columns as `text`, as SQLite does (migrations/postgres/): the
        // `serde_json::Value` fields decode from that text, which sqlx's type check would
        // refuse (it expects `json`), so the columns are read unchecked. Every other column of
        // these records is `bigint` or `text`, matching its field.
        impl<'r> sqlx::FromRow<'r, PgRow> for $record {
            fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
                Ok($record {
                    $($field: row.try_get_unchecked(stringify!($field))?,)*
                })
            }
        }
    };
}

from_columns!(Contact {
    id,
    msisdn,
    metadata,
    created_at,
    updated_at,
});

from_columns!(Callout {
    id,
    status,
    call_flow_logic,
    metadata,
    created_at,
    updated_at,
    dialing,
    created_by,
    started_by,
    requires_approval,
    approved_by,
    approved_at,
});

from_columns!(Operator {
    id,
    name,
    created_at,
    revoked_at,
});

from_columns!(Entry {
    seq,
    at,
    actor,
    action,
    subject,
    callout_id,
    details,
    prev_hash,
    hash,
});

from_columns!(BatchOperation {
    id,
    callout_id,
    parameters,
    metadata,
    status,
    created_at,
    updated_at,
    kind,
});

from_columns!(Participation {
    id,
    callout_id,
    contact_id,
    callout_population_id,
    msisdn,
    call_flow_logic,
    metadata,
    created_at,
    updated_at,
    own_call_flow_logic,
});

from_columns!(PhoneCall {
    id,
    callout_participation_id,
    contact_id,
    create_batch_operation_id,
    queue_batch_operation_id,
    queue_remote_fetch_batch_operation_id,
    status,
    msisdn,
    remote_call_id,
    remote_status,
    remote_direction,
    remote_error_message,
    metadata,
    remote_response,
    remote_request_params,
    remote_queue_response,
    call_flow_logic,
    remotely_queued_at,
    route,
    created_at,
    updated_at,
    own_call_flow_logic,
    callout_id,
    dial_attempt_id,
    dial_started_at,
});

from_columns!(RemotePhoneCallEvent {
    id,
    phone_call_id,
    details,
    metadata,
    remote_call_id,
    remote_direction,
    call_flow_logic,
    created_at,
    updated_at,
});
