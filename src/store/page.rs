//! The SQL side of SCFM's offset pagination: one helper that counts and reads a page. `Page`
//! and `Paged` themselves are plain domain types (`domain/page.rs`).

use super::engine::{Handle, Qb, Record};
use crate::domain::{Page, Paged};

/// Runs a paged index. `build(select)` returns `SELECT <select> FROM … WHERE …` with the scope
/// and filters bound; the total counts the matching rows (only the first `limit` by `id_col`
/// when a preview caps the set) and the page is read in `id_col` order.
pub(crate) async fn fetch_page<T: Record>(
    h: &mut impl Handle,
    build: impl Fn(&str) -> Qb,
    cols: &str,
    id_col: &str,
    limit: Option<i64>,
    page: Page,
) -> super::Result<Paged<T>> {
    let mut count = match limit {
        Some(_) => build(&format!("count(*) FROM (SELECT {id_col}")),
        None => build("count(*)"),
    };
    if let Some(l) = limit {
        count
            .push(format!(" ORDER BY {id_col} LIMIT "))
            .push_bind(l)
            .push(") AS limited");
    }
    let total: i64 = count.scalar(h).await?;
    // With a limit, the page is taken from the first `limit` rows only.
    let remaining = limit
        .map(|l| (l - page.offset()).max(0))
        .unwrap_or(page.per_page);
    let mut qb = build(cols);
    qb.push(format!(" ORDER BY {id_col} LIMIT "))
        .push_bind(page.per_page.min(remaining))
        .push(" OFFSET ")
        .push_bind(page.offset());
    let items = qb.fetch_all::<T>(h).await?;
    Ok(Paged { items, total, page })
}
