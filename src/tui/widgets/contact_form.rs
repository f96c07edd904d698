//! The contact form: msisdn and metadata lines (`key=value`, one per line).

use super::super::action::Action;
use super::form::{Field, Form};

impl Form {
    pub fn contact(id: Option<i64>, msisdn: &str, metadata: Vec<String>) -> Form {
        let title = match id {
            Some(id) => format!("Edit contact {id}"),
            None => "New contact".into(),
        };
        let fields = vec![
            Field::new("msisdn", "msisdn", vec![msisdn.to_string()], false),
            Field::new(
                "metadata",
                "metadata (key=value, one per line)",
                metadata,
                true,
            ),
        ];
        Form::new(title, fields, move |form| Action::SubmitContact {
            id,
            msisdn: form.text("msisdn"),
            // As typed; the App parses it line by line.
            metadata: form.field("metadata").map(Field::raw).unwrap_or_default(),
        })
    }
}
