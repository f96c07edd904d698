//! Correct line numbers for CSV records (used by the contact import).
//!
//! The csv crate's own `Position::line` is one short after a Windows line ending or a blank
//! line: a record's start position there is the leftover `\n` (or the blank line) before its
//! first byte. So [`LineEnds`] notes the offset of every `\r` and `\n` it hands to the parser,
//! and [`Lines::line_at`] counts the `\n`s before a record's first byte, skipping the line-ending
//! bytes it starts with. Offsets are dropped once passed, so the queue holds at most one
//! read-ahead buffer's worth.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::rc::Rc;

/// A reader that notes where its line endings are.
pub(super) struct LineEnds<R> {
    inner: R,
    offset: u64,
    /// `(byte offset, is '\n')` of each `\r` and `\n` not yet passed by [`Lines`].
    ends: Rc<RefCell<VecDeque<(u64, bool)>>>,
}

impl<R: Read> LineEnds<R> {
    /// Wraps `inner`; the [`Lines`] answers line numbers for what the wrapper reads.
    pub(super) fn new(inner: R) -> (Self, Lines) {
        let ends = Rc::new(RefCell::new(VecDeque::new()));
        let lines = Lines {
            ends: Rc::clone(&ends),
            lf_before: 0,
        };
        (
            LineEnds {
                inner,
                offset: 0,
                ends,
            },
            lines,
        )
    }
}

impl<R: Read> Read for LineEnds<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut ends = self.ends.borrow_mut();
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                ends.push_back((self.offset + i as u64, b == b'\n'));
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

pub(super) struct Lines {
    ends: Rc<RefCell<VecDeque<(u64, bool)>>>,
    /// `\n`s already passed.
    lf_before: u64,
}

impl Lines {
    /// The 1-based line of the record whose csv start position is byte `start`.
    pub(super) fn line_at(&mut self, start: u64) -> u64 {
        let mut ends = self.ends.borrow_mut();
        while let Some(&(at, lf)) = ends.front() {
            if at >= start {
                break;
            }
            self.lf_before += u64::from(lf);
            ends.pop_front();
        }
        // Line-ending bytes right at `start` come before the record's first byte.
        let mut leading = 0;
        for (i, &(at, lf)) in ends.iter().enumerate() {
            if at != start + i as u64 {
                break;
            }
            leading += u64::from(lf);
        }
        1 + self.lf_before + leading
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Line of each record, as the import computes it.
    fn lines_of(input: &str) -> Vec<u64> {
        let (reader, mut lines) = LineEnds::new(input.as_bytes());
        let mut csv = csv::ReaderBuilder::new().from_reader(reader);
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        while csv.read_byte_record(&mut rec).unwrap_or(false) {
            out.push(rec.position().map_or(0, |p| lines.line_at(p.byte())));
        }
        out
    }

    #[test]
    fn lf_crlf_blank_lines_bom_and_quoted_newlines() {
        assert_eq!(lines_of("h\na\nb\n"), [2, 3]);
        assert_eq!(lines_of("h\r\na\r\nb\r\n"), [2, 3]);
        assert_eq!(lines_of("h\r\n\r\na\r\n\r\n\r\nb"), [3, 6]);
        assert_eq!(lines_of("\u{feff}h\r\na\r\nb\r\n"), [2, 3]);
        assert_eq!(lines_of("h\n\"x\r\ny\nz\"\nb\n"), [2, 5]);
    }
}
