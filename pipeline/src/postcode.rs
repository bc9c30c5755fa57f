//! UK postcodes as people write them, made comparable.

/// `"bt1 1aa"` -> `("BT1", "BT1 1AA")`: upper case, spaces removed, then one
/// space before the inward code. `None` if it is not a UK postcode.
pub fn normalise(raw: &str) -> Option<(String, String)> {
    let mut s = String::with_capacity(8);
    for c in raw.chars() {
        if !c.is_whitespace() {
            if s.len() >= 8 {
                return None;
            }
            s.push(c.to_ascii_uppercase());
        }
    }
    // `[A-Z]{1,2}[0-9][A-Z0-9]?` then `[0-9][A-Z]{2}`, checked by hand:
    // a bulk look-up normalises a million cells, and a regex with captures
    // was a tenth of its time.
    let b = s.as_bytes();
    if !(5..=7).contains(&b.len()) {
        return None;
    }
    let (out, inw) = b.split_at(b.len() - 3);
    let upper = |c: &u8| c.is_ascii_uppercase();
    if !(inw[0].is_ascii_digit() && upper(&inw[1]) && upper(&inw[2])) {
        return None;
    }
    let letters = out.iter().take_while(|c| upper(c)).count();
    let outward_ok = (1..=2).contains(&letters)
        && match &out[letters..] {
            [d] => d.is_ascii_digit(),
            [d, x] => d.is_ascii_digit() && (x.is_ascii_digit() || upper(x)),
            _ => false,
        };
    if !outward_ok {
        return None;
    }
    let (out, inw) = s.split_at(s.len() - 3);
    Some((out.to_string(), format!("{out} {inw}")))
}

/// A normalised postcode held inline (at most 8 characters, `OUT IN`):
/// millions of them cost 8 bytes each, not an allocation each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Compact([u8; 8]);

impl Compact {
    /// From a normalised postcode (as [`normalise`] gives it).
    pub fn new(s: &str) -> Compact {
        let mut b = [b' '; 8];
        let n = s.len().min(8);
        b[..n].copy_from_slice(&s.as_bytes()[..n]);
        Compact(b)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default().trim_end()
    }

    pub fn outcode(&self) -> &str {
        self.as_str().split(' ').next().unwrap_or_default()
    }

    /// A number that orders postcodes by outcode, then postcode: the eight
    /// bytes, big-endian. Byte order is that order because the outward
    /// code never holds a space and is followed by one, which sorts before
    /// any letter or digit ("AB1 9ZZ" before "AB10 1AA", as "AB1" before
    /// "AB10"); and the inward code is always three characters.
    pub fn order_key(&self) -> u64 {
        u64::from_be_bytes(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn postcodes_are_normalised_for_case_and_spaces() {
        let want = Some(("BT1".to_string(), "BT1 1AA".to_string()));
        assert_eq!(normalise("BT11AA"), want);
        assert_eq!(normalise(" bt1  1aa "), want);
        assert_eq!(normalise("bt1\t1Aa"), want);
        assert_eq!(
            normalise("sw1a 1aa"),
            Some(("SW1A".to_string(), "SW1A 1AA".to_string()))
        );
        assert_eq!(
            normalise("M1 1AE"),
            Some(("M1".to_string(), "M1 1AE".to_string()))
        );
        assert_eq!(normalise("not a postcode"), None);
        assert_eq!(normalise(""), None);
        assert_eq!(normalise("BT1 1A"), None);
        assert_eq!(normalise("BT1 1AAAAAAAAAAAAAAAAAAAAAAAA"), None);
    }

    #[test]
    fn the_order_key_orders_by_outcode_then_postcode() {
        use super::Compact;
        let mut codes: Vec<Compact> = [
            "AB10 1AA", "AB1 9ZZ", "AB1 0AA", "A1 1AA", "A11 1AA", "A1A 1AA", "W1A 0AX", "W1 1AA",
            "W10 1AA", "B1 1AA", "AB1A 1AA", "AB11 1AA", "Z9 9ZZ", "A9 9ZZ",
        ]
        .iter()
        .map(|p| Compact::new(&normalise(p).unwrap().1))
        .collect();
        let mut by_outcode = codes.clone();
        by_outcode.sort_by(|a, b| (a.outcode(), a).cmp(&(b.outcode(), b)));
        codes.sort_by_key(Compact::order_key);
        assert_eq!(codes, by_outcode);
        assert_eq!(codes[0].as_str(), "A1 1AA");
        assert_eq!(codes[1].as_str(), "A11 1AA", "digits sort before letters");
    }
}
