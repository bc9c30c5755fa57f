//! `str` methods with a shortcut for the text nearly every cell is: ASCII
//! that needs nothing done. Each returns exactly what the `str` method
//! returns; they exist because the general methods decode every character,
//! and the loads and range checks call them on millions of cells (2% of a
//! build's samples).

/// `str::trim`. Text that starts and ends with a printable ASCII character
/// has no white space at either end, so it is returned as it is (a last
/// byte below 0x80 is a whole character in UTF-8).
pub fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// Whether `str::trim` leaves nothing.
pub fn is_blank(s: &str) -> bool {
    trim(s).is_empty()
}

/// `s.chars().count() > max`, without counting when the bytes are few
/// enough (a character is at least one byte).
pub fn longer_than(s: &str, max: usize) -> bool {
    s.len() > max && s.chars().count() > max
}

/// `s.chars().any(char::is_control)`, in one pass over the bytes. The
/// control characters are U+0000-U+001F and U+007F, one byte each in UTF-8,
/// and U+0080-U+009F, the two bytes 0xC2 0x80-0x9F.
pub fn has_control(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &x)| {
        x < 0x20
            || x == 0x7F
            || (x == 0xC2 && b.get(i + 1).is_some_and(|n| (0x80..=0x9F).contains(n)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text with every kind of end: ASCII letters and spaces, tabs, the
    /// vertical tab, non-breaking and ideographic spaces, accented letters,
    /// control characters of both ranges, and emptiness.
    const SAMPLES: &[&str] = &[
        "",
        " ",
        "E01000001",
        " E01000001",
        "E01000001 ",
        "\tx\r\n",
        "\u{0B}x\u{0B}",
        "\u{A0}x",
        "x\u{A0}",
        "\u{3000}",
        "Ynys Môn",
        "é",
        "Caerffili é ",
        "a\u{85}b",
        "a\u{7F}",
        "a\u{1F}b",
        "~!",
        "x\u{9F}",
        "\u{80}",
        "x\u{A0}\u{C0}\u{100}\u{2028}",
        "\u{0142}\u{0100}\u{00C2}",
        "  multiple   inner  ",
    ];

    #[test]
    fn each_shortcut_answers_as_the_str_method_does() {
        for s in SAMPLES {
            assert_eq!(trim(s), s.trim(), "{s:?}");
            assert_eq!(is_blank(s), s.trim().is_empty(), "{s:?}");
            assert_eq!(has_control(s), s.chars().any(char::is_control), "{s:?}");
            for max in 0..12 {
                assert_eq!(longer_than(s, max), s.chars().count() > max, "{s:?} {max}");
            }
        }
    }

    #[test]
    fn every_character_in_the_first_planes_is_a_control_exactly_when_rust_says() {
        for c in (0..0x3100).filter_map(char::from_u32) {
            for s in [format!("{c}"), format!("a{c}"), format!("{c}\u{85}")] {
                assert_eq!(has_control(&s), s.chars().any(char::is_control), "{s:?}");
            }
        }
    }
}
