//! A regular expression written in a spec, compiled when the spec is read.
//!
//! Compiling on deserialisation means a bad pattern is a configuration error
//! reported by `check`, and run-time code never compiles a pattern (nor
//! needs an `expect` that `check` ran).

use serde::{Deserialize, Serialize};

/// A compiled regular expression that serialises as its source text.
#[derive(Debug, Clone)]
pub struct Pattern(regex::Regex);

impl Pattern {
    pub fn new(source: &str) -> Result<Pattern, regex::Error> {
        regex::Regex::new(source).map(Pattern)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }

    pub fn regex(&self) -> &regex::Regex {
        &self.0
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Pattern::new(&s)
            .map_err(|e| serde::de::Error::custom(format!("invalid regular expression {s:?}: {e}")))
    }
}
