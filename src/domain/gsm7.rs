//! How a text goes out as SMS (3GPP TS 23.038): in the GSM 7-bit default alphabet when every
//! character is in it (160 septets in one message, 153 per part of a longer one; the extension
//! characters `^{}\[~]|€` and form feed take two septets), otherwise in UCS-2 (70 UTF-16 units
//! in one message, 67 per part), as Khmer always does. A part never splits an escape pair or a
//! surrogate pair, so the count here is the count the network bills.

/// The 128 characters of the default alphabet, in code order (0x1B, the escape, is not a
/// character of its own; it stands in the table as a space that never matches a lookup below).
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// Characters of the extension table: each is sent as escape + code, two septets.
const EXTENSION: &str = "\u{0c}^{}\\[~]|€";

/// Septets per message: one message alone, and each part of a concatenated one.
const GSM_SINGLE: usize = 160;
const GSM_PART: usize = 153;
/// UTF-16 code units per message for UCS-2.
const UCS2_SINGLE: usize = 70;
const UCS2_PART: usize = 67;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }
}

/// What a text costs as SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// Messages the network sends (0 for an empty text).
    pub count: usize,
}

impl Segments {
    /// Whether the text fits in one message.
    pub fn single(&self) -> bool {
        self.count <= 1
    }
}

/// Septets `c` takes in the default alphabet, or None when it is not in it.
fn septets(c: char) -> Option<usize> {
    if c == '\u{1b}' {
        return None;
    }
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The encoding `text` needs: GSM-7 when every character is in the default alphabet.
pub fn encoding(text: &str) -> Encoding {
    if text.chars().all(|c| septets(c).is_some()) {
        Encoding::Gsm7
    } else {
        Encoding::Ucs2
    }
}

/// How `text` goes out: its encoding, its length in that encoding, and how many messages.
pub fn segments(text: &str) -> Segments {
    let encoding = encoding(text);
    let widths: Vec<usize> = match encoding {
        Encoding::Gsm7 => text.chars().filter_map(septets).collect(),
        Encoding::Ucs2 => text.chars().map(char::len_utf16).collect(),
    };
    let (single, part) = match encoding {
        Encoding::Gsm7 => (GSM_SINGLE, GSM_PART),
        Encoding::Ucs2 => (UCS2_SINGLE, UCS2_PART),
    };
    let units: usize = widths.iter().sum();
    let count = if units == 0 {
        0
    } else if units <= single {
        1
    } else {
        // Pack characters into parts without splitting one across two.
        let mut parts = 1;
        let mut used = 0;
        for w in widths {
            if used + w > part {
                parts += 1;
                used = 0;
            }
            used += w;
        }
        parts
    };
    Segments {
        encoding,
        units,
        count,
    }
}

/// Whether `text` fits in one GSM-7 message (what the short situation report aims for).
pub fn fits_one_gsm7(text: &str) -> bool {
    let s = segments(text);
    s.encoding == Encoding::Gsm7 && s.count <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alphabet_has_128_places() {
        assert_eq!(BASIC.chars().count(), 128);
    }

    #[test]
    fn plain_text_is_gsm7_and_counts_septets() {
        let s = segments("Kandal: 8412 of 9100 reached");
        assert_eq!(s.encoding, Encoding::Gsm7);
        assert_eq!(s.units, 28);
        assert_eq!(s.count, 1);
        assert_eq!(segments("").count, 0);
        // Extension characters take two septets.
        assert_eq!(segments("[€]").units, 6);
    }

    #[test]
    fn long_gsm7_splits_at_153_without_breaking_an_escape() {
        assert_eq!(segments(&"a".repeat(160)).count, 1);
        assert_eq!(segments(&"a".repeat(161)).count, 2);
        assert_eq!(segments(&"a".repeat(306)).count, 2);
        assert_eq!(segments(&"a".repeat(307)).count, 3);
        // 152 septets then an escape pair: the pair moves whole to the next part.
        let t = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        assert_eq!(segments(&t).units, 164);
        assert_eq!(segments(&t).count, 2);
        let t = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(segments(&t).units, 306);
        assert_eq!(
            segments(&t).count,
            3,
            "306 septets, but the pair cannot be split"
        );
    }

    #[test]
    fn khmer_and_other_scripts_need_ucs2() {
        let km = "ទឹកជំនន់កំពុងកើនឡើង";
        let s = segments(km);
        assert_eq!(s.encoding, Encoding::Ucs2);
        assert_eq!(s.units, km.chars().count());
        assert_eq!(s.count, 1);
        assert_eq!(segments(&"ក".repeat(70)).count, 1);
        assert_eq!(segments(&"ក".repeat(71)).count, 2);
        assert_eq!(segments(&"ក".repeat(135)).count, 3);
        // One character outside the alphabet makes the whole text UCS-2.
        assert_eq!(encoding("Flood warning – leave now"), Encoding::Ucs2);
        assert!(!fits_one_gsm7("ç"));
        // Emoji are two UTF-16 units and never split.
        assert_eq!(segments("🌊").units, 2);
    }
}
