//! The population preview form: which callout, and the contact filter that picks its people.

use super::super::action::Action;
use super::form::{Field, Form};

impl Form {
    pub fn preview(callout_id: Option<i64>) -> Form {
        let fields = vec![
            Field::new(
                "callout_id",
                "callout id",
                vec![callout_id.map(|i| i.to_string()).unwrap_or_default()],
                false,
            ),
            Field::new(
                "filter",
                "contact filter (province=Kandal gender=f +85512; empty = everyone)",
                vec![],
                false,
            ),
        ];
        let mut form = Form::new("Build a population preview", fields, |form| {
            Action::SubmitPreview {
                callout_id: form.text("callout_id"),
                filter: form.text("filter"),
            }
        });
        form.focus = if callout_id.is_some() { 1 } else { 0 };
        form
    }
}
