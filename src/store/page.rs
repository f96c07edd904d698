//! Offset pagination as SCFM's API does it (`page`, `per_page`, `Total`).

use sqlx::{QueryBuilder, Sqlite};

/// Requested page; both values already sanitised (≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: i64,
    pub per_page: i64,
}

/// `per_page` cap ([fix] over SCFM's unbounded `per_page`).
pub const MAX_PER_PAGE: i64 = 1000;
pub const DEFAULT_PER_PAGE: i64 = 25;

impl Default for Page {
    fn default() -> Self {
        Page {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

impl Page {
    /// Missing, non-numeric or ≤ 0 values mean page 1 / 25 per page.
    pub fn parse(page: Option<&str>, per_page: Option<&str>) -> Page {
        let num = |s: Option<&str>| s.map(crate::domain::batch::leading_int).filter(|n| *n > 0);
        Page {
            page: num(page).unwrap_or(1),
            per_page: num(per_page).unwrap_or(DEFAULT_PER_PAGE).min(MAX_PER_PAGE),
        }
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

/// One page of results plus the total count of matching rows.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: Page,
}

impl<T> Paged<T> {
    pub fn total_pages(&self) -> i64 {
        if self.total == 0 {
            0
        } else {
            (self.total + self.page.per_page - 1) / self.page.per_page
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            page: self.page,
        }
    }
}

/// Runs a paged index. `build(select)` returns `SELECT <select> FROM … WHERE …` with the scope
/// and filters bound; the total counts the matching rows (only the first `limit` by `id_col`
/// when a preview caps the set) and the page is read in `id_col` order.
pub(crate) async fn fetch_page<T>(
    conn: &mut super::Conn,
    build: impl Fn(&str) -> QueryBuilder<Sqlite>,
    cols: &str,
    id_col: &str,
    limit: Option<i64>,
    page: Page,
) -> super::Result<Paged<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
{
    let mut count = match limit {
        Some(_) => build(&format!("count(*) FROM (SELECT {id_col}")),
        None => build("count(*)"),
    };
    if let Some(l) = limit {
        count
            .push(format!(" ORDER BY {id_col} LIMIT "))
            .push_bind(l)
            .push(")");
    }
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    // With a limit, the page is taken from the first `limit` rows only.
    let remaining = limit
        .map(|l| (l - page.offset()).max(0))
        .unwrap_or(page.per_page);
    let mut qb = build(cols);
    qb.push(format!(" ORDER BY {id_col} LIMIT "))
        .push_bind(page.per_page.min(remaining))
        .push(" OFFSET ")
        .push_bind(page.offset());
    let items = qb.build_query_as::<T>().fetch_all(&mut *conn).await?;
    Ok(Paged { items, total, page })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_defaults() {
        assert_eq!(
            Page::parse(None, None),
            Page {
                page: 1,
                per_page: 25
            }
        );
        assert_eq!(
            Page::parse(Some("0"), Some("abc")),
            Page {
                page: 1,
                per_page: 25
            }
        );
        assert_eq!(
            Page::parse(Some("3"), Some("2")),
            Page {
                page: 3,
                per_page: 2
            }
        );
        assert_eq!(Page::parse(Some("-1"), Some("5000")).per_page, MAX_PER_PAGE);
        assert_eq!(Page::parse(Some("3"), Some("2")).offset(), 4);
    }
}
