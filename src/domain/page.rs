//! Offset pagination as SCFM's API does it (`page`, `per_page`, `Total`).

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
        let num = |s: Option<&str>| s.map(super::batch::leading_int).filter(|n| *n > 0);
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
