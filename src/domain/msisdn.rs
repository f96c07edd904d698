//! MSISDN normalisation and plausibility (spec §8.1) and the `q[msisdn]` filter value (spec §6.4).
//!
//! Pipeline, applied by [`Msisdn::parse`] on every save:
//!
//! 0. **Extensions are rejected** (\[fix\] in §8.1). This runs on the raw input, *before* stripping,
//!    because stripping would delete the marker and glue the extension digits onto the number
//!    (`+85510202103 x12` would become `+8551020210312`). An extension is a marker `x`/`X` (which
//!    covers `x`, `ext`, `ext.`, `extn`, `extension`), `#` or `:` that appears after the first
//!    ASCII digit and is followed, anywhere later, by another ASCII digit. The marker set follows
//!    phony_rails' extension pattern (`ext|ex|x|xt|#|:`). A marker with no digit after it (a
//!    trailing `#`) is not an extension; stripping just removes it.
//! 1. Keep only ASCII digits, `+`, `(` and `)`. If nothing is left: [`MsisdnError::Blank`]
//!    (`abc`, `""`, `"  "`).
//! 2. Phony's clean, i.e. one left-to-right pass of Ruby's `gsub(/\A00?|\(0|\D/, "")` over the
//!    step-1 output: remove one leading `00` or `0`, every `(0`, then every other non-digit.
//!    `00252662345678` and `+252 66-(2)-345-678` both become `252662345678`. Note that `\A`
//!    only matches the very first character, so `+00…` keeps its zeros (as in Phony) and is
//!    then rejected because no country code starts with `0`.
//! 3. The digits are read as an international number (`+<digits>`, country code first) and
//!    parsed with the `phonenumber` crate (libphonenumber metadata). The parser splits off the
//!    country code and drops the country's national (trunk) prefix when the national part
//!    starts with it and the remainder is still long enough (`+855 0 10 202 103` →
//!    `+85510202103`, `+44 (0) 7911 123456` → `+447911123456`).
//! 4. Plausible means every one of these holds. Otherwise the result is
//!    [`MsisdnError::Invalid`]:
//!    * `phonenumber::is_valid` accepts the number: known country code, and the national number
//!      matches one of that country's number-type patterns;
//!    * the E.164 form has 4..=15 digits;
//!    * the country narrowing rules in `PHONY_NARROWING` pass (see "Divergences").
//!
//!    The stored value is the E.164 form `+<country code><national significant number>`.
//!
//! Blank or invalid: `+`, `()` and `(0)` alone are **Invalid**, not Blank. Step 1 leaves a
//! non-empty string, so the value was not blank; it only cleans down to nothing. The spec's
//! "blank" only covers input where step 1 leaves nothing.
//!
//! # Divergences from the original (Phony 2.15 / phony_rails)
//!
//! * **Plausibility uses libphonenumber's validity** (metadata 9.0.33 bundled with
//!   `phonenumber` 0.3.10), not Phony's hand-written per-country splitting rules. The two agree
//!   for the numbers the spec names: Somalia mobile `+25266xxxxxxx` and Cambodia mobile
//!   `+85510xxxxxx`. They can disagree at the edges. libphonenumber checks number-type
//!   patterns, so it is usually stricter, for example about unassigned ranges. Phony instead
//!   mostly checks that a known prefix is followed by the right number of digits.
//! * **Somalia (+252): the national number must have at least 7 digits.** libphonenumber also
//!   accepts a 6-digit fixed-line range `(?:[134]\d|8[125])\d{4}`, so it would accept
//!   `252123456`. The spec says this number MUST be rejected. In Phony's Somali plan
//!   (floere/phony `countries/somalia.rb`), the only 6-digit block inside that range is
//!   `313xxx`. Phony's other `1…`, `3…`, `4…` and `81/82/85…` numbers need 7 or more digits.
//!   The metadata has no other Somali 6-digit type, so the 7-digit minimum removes exactly
//!   that fixed-line range, `313xxx` included. No other country changes.
//! * Every number the spec requires us to accept passes `is_valid`, so no looser fallback rule
//!   (such as a length-only "viable" check) is needed.
//! * **Extensions are rejected** (spec \[fix\]). The original split them off and stored
//!   `+<digits> x12`.
//! * Only ASCII digits are recognised. Step 1 strips other Unicode digits (full-width, Arabic-
//!   Indic), as Ruby's ASCII-only `\d` did.
//! * A value that fails has no "unnormalised" form here: the caller gets an error and keeps
//!   the raw input for the 422 response.
//!
//! # Cost
//!
//! A successful parse allocates one `String`, the returned value, on top of what the
//! `phonenumber` parser allocates internally. Cleaning runs on a stack buffer. A successful
//! parse reuses the `+<digits>` buffer that was handed to the parser (it is rewritten in
//! place when trunk-prefix removal changed the digits). The libphonenumber database is a lazy
//! global inside `phonenumber`, so no metadata is built per call.

use std::fmt;

/// The most digits kept after cleaning. E.164 allows 15. The margin covers a trunk prefix or
/// a carrier-selection code that the parser strips (for example Brazil's `0 15` before the
/// area code). Anything longer is rejected without calling the parser.
const MAX_CLEAN_DIGITS: usize = 20;

/// The shortest and longest E.164 number, in digits, country code included.
const MIN_E164_DIGITS: usize = 4;
const MAX_E164_DIGITS: usize = 15;

/// Country-specific narrowing on top of libphonenumber validity: `(country calling code,
/// minimum national significant number length)`. The module docs explain why each entry
/// exists.
const PHONY_NARROWING: &[(u16, usize)] = &[
    // Somalia: drop libphonenumber's 6-digit fixed-line range. Phony had no such numbers, and
    // the spec requires rejecting `252123456`.
    (252, 7),
];

/// A validated, normalised phone number in E.164 form: '+' followed by 4..=15 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Msisdn(String);

/// Why a raw msisdn was refused. The messages are the Rails validation messages (spec §5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsisdnError {
    /// Nothing was left after stripping to digits, `+`, `(` and `)` (e.g. `"abc"`, `""`).
    #[error("can't be blank")]
    Blank,
    /// Not a plausible number: unknown country, wrong length or pattern, or an extension.
    #[error("is an invalid number")]
    Invalid,
}

impl Msisdn {
    /// Normalise and validate `raw` (spec §8.1). See the module docs for the exact rules.
    pub fn parse(raw: &str) -> Result<Msisdn, MsisdnError> {
        if has_extension(raw) {
            return Err(MsisdnError::Invalid);
        }

        let mut digits = [0u8; MAX_CLEAN_DIGITS];
        let n = phony_clean(raw, &mut digits)?;
        if n == 0 {
            return Err(MsisdnError::Invalid);
        }

        // "+<digits>": the parser input, and usually the return value too.
        let mut buf = String::with_capacity(n + 1);
        buf.push('+');
        for &d in &digits[..n] {
            buf.push(char::from(d));
        }

        let number = phonenumber::parse(None, &buf).map_err(|_| MsisdnError::Invalid)?;
        if number.extension().is_some() || !phonenumber::is_valid(&number) {
            return Err(MsisdnError::Invalid);
        }

        let code = number.code().value();
        let national = number.national();

        // Render "+<code><zeros><national>" on the stack, without allocating.
        let mut out = [0u8; 1 + 5 + MAX_CLEAN_DIGITS + 24];
        out[0] = b'+';
        let mut len = 1;
        len = push_decimal(&mut out, len, u64::from(code))?;
        let national_start = len;
        for _ in 0..national.zeros() {
            len = push_byte(&mut out, len, b'0')?;
        }
        len = push_decimal(&mut out, len, national.value())?;

        let e164_digits = len - 1;
        if !(MIN_E164_DIGITS..=MAX_E164_DIGITS).contains(&e164_digits) {
            return Err(MsisdnError::Invalid);
        }
        let nsn_len = len - national_start;
        if PHONY_NARROWING
            .iter()
            .any(|&(cc, min_nsn)| cc == code && nsn_len < min_nsn)
        {
            return Err(MsisdnError::Invalid);
        }

        let rendered = &out[..len];
        if buf.as_bytes() != rendered {
            // The parser changed the digits, for example by dropping a trunk prefix.
            buf.clear();
            for &b in rendered {
                buf.push(char::from(b));
            }
        }
        Ok(Msisdn(buf))
    }

    /// The E.164 form, e.g. `"+252662345678"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the leading `+`, e.g. `"252662345678"`.
    pub fn digits(&self) -> &str {
        self.0.strip_prefix('+').unwrap_or(&self.0)
    }

    /// The E.164 form as an owned `String`.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// For `q[msisdn]=...` filters: normalise like a stored value; None if it normalises to nothing or is
/// not plausible (then the filter matches nothing).
///
/// Stored msisdns are always plausible E.164 values, so a non-plausible filter value could
/// never match one. `None` therefore loses nothing.
pub fn normalize_for_filter(raw: &str) -> Option<Msisdn> {
    Msisdn::parse(raw).ok()
}

/// True when `raw` has an extension: an `x`/`X`, `#` or `:` after the first ASCII digit,
/// followed later by another ASCII digit. `ext`, `extn` and `extension` all contain an `x`.
fn has_extension(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let Some(first_digit) = bytes.iter().position(u8::is_ascii_digit) else {
        return false;
    };
    let rest = &bytes[first_digit..];
    match rest
        .iter()
        .position(|b| matches!(b, b'x' | b'X' | b'#' | b':'))
    {
        Some(marker) => rest[marker + 1..].iter().any(u8::is_ascii_digit),
        None => false,
    }
}

/// Steps 1 and 2 of §8.1. Writes the remaining digits into `digits` and returns how many there
/// are. Returns `Blank` if step 1 leaves nothing, and `Invalid` if more than
/// [`MAX_CLEAN_DIGITS`] digits are left.
fn phony_clean(raw: &str, digits: &mut [u8; MAX_CLEAN_DIGITS]) -> Result<usize, MsisdnError> {
    // Step 1 as a lazy filter. Step 2 is Ruby's single left-to-right
    // `gsub(/\A00?|\(0|\D/, "")` over what step 1 kept.
    let mut kept = raw
        .bytes()
        .filter(|b| b.is_ascii_digit() || matches!(b, b'+' | b'(' | b')'))
        .peekable();
    if kept.peek().is_none() {
        return Err(MsisdnError::Blank);
    }
    // `\A00?`: one leading "0" or "00", only at the very start.
    if kept.next_if_eq(&b'0').is_some() {
        kept.next_if_eq(&b'0');
    }
    let mut n = 0;
    while let Some(b) = kept.next() {
        match b {
            b'0'..=b'9' => {
                let slot = digits.get_mut(n).ok_or(MsisdnError::Invalid)?;
                *slot = b;
                n += 1;
            }
            // `\(0`: a "(" directly followed by "0" is removed together with that zero.
            b'(' => {
                kept.next_if_eq(&b'0');
            }
            // `\D`: every other non-digit ("+" and ")").
            _ => {}
        }
    }
    Ok(n)
}

fn push_byte(out: &mut [u8], len: usize, b: u8) -> Result<usize, MsisdnError> {
    let slot = out.get_mut(len).ok_or(MsisdnError::Invalid)?;
    *slot = b;
    Ok(len + 1)
}

/// Appends `v` in decimal, with no leading zeros ("0" for zero).
fn push_decimal(out: &mut [u8], len: usize, mut v: u64) -> Result<usize, MsisdnError> {
    let mut tmp = [0u8; 20]; // u64::MAX has 20 digits
    let mut i = tmp.len();
    loop {
        i -= 1;
        // `v % 10` is below 10, so the cast cannot truncate.
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let end = len + (tmp.len() - i);
    out.get_mut(len..end)
        .ok_or(MsisdnError::Invalid)?
        .copy_from_slice(&tmp[i..]);
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        match Msisdn::parse(raw) {
            Ok(m) => m.into_string(),
            Err(e) => panic!("{raw:?} should be accepted, got {e:?}"),
        }
    }

    fn err(raw: &str) -> MsisdnError {
        match Msisdn::parse(raw) {
            Ok(m) => panic!("{raw:?} should be rejected, got {m}"),
            Err(e) => e,
        }
    }

    #[test]
    fn spec_must_accept() {
        let table = [
            ("+252662345678", "+252662345678"),
            ("+252662345679", "+252662345679"),
            ("+85510202103", "+85510202103"),
            ("+85510202101", "+85510202101"),
            ("252662345678", "+252662345678"),
            ("+252 66-(2)-345-678", "+252662345678"),
            ("00252662345678", "+252662345678"),
        ];
        for (raw, want) in table {
            assert_eq!(ok(raw), want, "input {raw:?}");
        }
    }

    #[test]
    fn spec_must_reject() {
        // libphonenumber alone accepts this one (6-digit Somali fixed line). The +252 rule
        // in PHONY_NARROWING rejects it.
        assert_eq!(err("252123456"), MsisdnError::Invalid);
        assert_eq!(err("+252123456"), MsisdnError::Invalid);
        assert!(normalize_for_filter("252123456").is_none());
    }

    #[test]
    fn blank_inputs() {
        for raw in ["abc", "", "  ", "wrong", "-- ..", "tel", "x"] {
            assert_eq!(err(raw), MsisdnError::Blank, "input {raw:?}");
        }
    }

    #[test]
    fn cleans_to_nothing_is_invalid_not_blank() {
        // Documented choice: step 1 leaves something, so this is not blank.
        for raw in ["+", "()", "(0)", "0", "00", "+ ( )", "a+b"] {
            assert_eq!(err(raw), MsisdnError::Invalid, "input {raw:?}");
        }
    }

    #[test]
    fn extensions_are_rejected() {
        for raw in [
            "+85510202103 x12",
            "+85510202103x12",
            "+85510202103 X 12",
            "+85510202103 ext 12",
            "+85510202103 ext. 12",
            "+85510202103 extension 12",
            "+85510202103 #12",
            "+85510202103#12",
            "+85510202103 : 12",
            "+252 66-(2)-345-678 x1",
        ] {
            assert_eq!(err(raw), MsisdnError::Invalid, "input {raw:?}");
        }
    }

    #[test]
    fn markers_without_extension_digits_are_just_stripped() {
        assert_eq!(ok("+85510202103 #"), "+85510202103");
        assert_eq!(ok("+85510202103 x"), "+85510202103");
        // A marker before any digit is a label, not an extension.
        assert_eq!(ok("tel: +85510202103"), "+85510202103");
        assert_eq!(ok("Phone #: +252 66 234 5678"), "+252662345678");
    }

    #[test]
    fn trunk_prefix_is_dropped() {
        assert_eq!(ok("+855 0 10 202 103"), "+85510202103");
        assert_eq!(ok("855010202103"), "+85510202103");
        assert_eq!(ok("+44 (0) 7911 123456"), "+447911123456");
        assert_eq!(ok("+2520662345678"), "+252662345678");
    }

    #[test]
    fn phony_clean_details() {
        // "(0" anywhere is removed; other parentheses just go.
        assert_eq!(ok("+855 (0)10 202 103"), "+85510202103");
        assert_eq!(ok("(+855) 10-202-103"), "+85510202103");
        // One leading "0" is removed (then "0855..." → "855...").
        assert_eq!(ok("0855 10 202 103"), "+85510202103");
        // A space where a form-encoded "+" was (spec §2.2).
        assert_eq!(ok(" 252662345678"), "+252662345678");
        // `\A` only matches the very first kept character: "+00..." keeps the zeros (Phony).
        assert_eq!(err("+00252662345678"), MsisdnError::Invalid);
        assert_eq!(err("+0252662345678"), MsisdnError::Invalid);
    }

    #[test]
    fn realistic_numbers() {
        let table = [
            ("+14155552671", "+14155552671"),
            ("+1 (415) 555-2671", "+14155552671"),
            ("+447911123456", "+447911123456"),
            ("+85512345678", "+85512345678"),
            ("+855 96 123 4567", "+855961234567"),
            ("+855 12 345 6789", "+855123456789"),
            ("+39 06 1234 5678", "+390612345678"), // Italian leading zero is kept
        ];
        for (raw, want) in table {
            assert_eq!(ok(raw), want, "input {raw:?}");
        }
    }

    #[test]
    fn clearly_invalid_numbers() {
        for raw in [
            "+1234",
            "+1234567890123456",
            "+12345678901234567890",
            "1234567890123456789012345678901234567890",
            "+999123456789",
            "+85512",
            "+8559912345678",
            "85501",
            // Cambodian domestic format: Phony strips the "0" and reads "12..." as +1 2...
            "012 345 678",
        ] {
            assert_eq!(err(raw), MsisdnError::Invalid, "input {raw:?}");
        }
    }

    #[test]
    fn somalia_narrowing_keeps_seven_digit_numbers() {
        // The +252 rule only removes libphonenumber's 6-digit fixed-line range.
        assert_eq!(ok("+2521234567"), "+2521234567"); // 7-digit fixed line
        assert_eq!(ok("+25271123456"), "+25271123456"); // example mobile
    }

    #[test]
    fn accessors_display_and_serde() {
        let m = Msisdn::parse("252662345678").expect("valid");
        assert_eq!(m.as_str(), "+252662345678");
        assert_eq!(m.digits(), "252662345678");
        assert_eq!(m.to_string(), "+252662345678");
        assert_eq!(
            serde_json::to_string(&m).expect("serialize"),
            "\"+252662345678\""
        );
        assert_eq!(m.clone().into_string(), "+252662345678");
    }

    #[test]
    fn error_messages() {
        assert_eq!(MsisdnError::Blank.to_string(), "can't be blank");
        assert_eq!(MsisdnError::Invalid.to_string(), "is an invalid number");
    }

    #[test]
    fn filter_normalisation() {
        let want = Msisdn::parse("+252662345700").expect("valid");
        for raw in ["252662345700", "+252662345700", "+252 66 234 5700"] {
            assert_eq!(
                normalize_for_filter(raw).as_ref(),
                Some(&want),
                "input {raw:?}"
            );
        }
        assert_eq!(normalize_for_filter("wrong"), None);
        assert_eq!(normalize_for_filter(""), None);
        assert_eq!(normalize_for_filter("+"), None);
        assert_eq!(normalize_for_filter("252123456"), None);
    }

    #[test]
    fn output_is_always_e164_shaped() {
        for raw in [
            "+252662345678",
            "00252662345678",
            "+855 0 10 202 103",
            "+14155552671",
            "+390612345678",
        ] {
            let m = Msisdn::parse(raw).expect("valid");
            let digits = m.digits();
            assert!(m.as_str().starts_with('+'));
            assert!((4..=15).contains(&digits.len()), "{m}");
            assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{m}");
        }
    }

    #[test]
    fn push_decimal_renders() {
        let mut out = [0u8; 32];
        let len = push_decimal(&mut out, 0, 0).expect("fits");
        assert_eq!(&out[..len], b"0");
        let len = push_decimal(&mut out, 0, u64::MAX).expect("fits");
        assert_eq!(&out[..len], b"18446744073709551615");
        let mut small = [0u8; 3];
        assert_eq!(push_decimal(&mut small, 0, 1234), Err(MsisdnError::Invalid));
    }
}
