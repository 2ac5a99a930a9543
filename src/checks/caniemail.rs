//! The vendored caniemail data (`caniemail/`, npm `caniemail`, MIT: see `caniemail/LICENSE`;
//! `scripts/update-caniemail.sh` updates it), compiled in and read once on first use.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

const DATA: &str = include_str!("caniemail/caniemail.json");
/// The npm package version the data came from.
pub const VERSION: &str = include_str!("caniemail/VERSION");

/// A JSON object with its keys in document order (client versions are listed oldest first).
#[derive(Debug, Default)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V_<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V_<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = m.next_entry()? {
                    v.push(e);
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V_(std::marker::PhantomData))
    }
}

#[derive(Debug, Deserialize)]
pub struct NiceNames {
    pub family: HashMap<String, String>,
    pub platform: HashMap<String, String>,
}

/// One feature as caniemail describes it.
#[derive(Debug, Deserialize)]
pub struct Feature {
    pub slug: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    pub url: String,
    pub category: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub keywords: Option<String>,
    /// family -> platform -> version -> "y" | "n" | "a" | "u", with " #N" note references.
    pub stats: Ordered<Ordered<Ordered<String>>>,
    #[serde(default)]
    pub notes_by_num: Option<HashMap<String, String>>,
}

#[derive(Debug, Deserialize)]
pub struct Data {
    pub last_update_date: String,
    pub nicenames: NiceNames,
    pub data: Vec<Feature>,
}

/// The data with its slug index.
pub struct Indexed {
    pub data: Data,
    index: HashMap<String, usize>,
}

impl std::ops::Deref for Indexed {
    type Target = Data;
    fn deref(&self) -> &Data {
        &self.data
    }
}

impl Indexed {
    pub fn feature(&self, slug: &str) -> Option<&Feature> {
        self.index.get(slug).map(|&i| &self.data.data[i])
    }
}

/// Parsed once: immutable after, shared by every check. The data is part of the binary, so a
/// parse failure is a build defect, caught by the unit test below.
pub static CANIEMAIL: LazyLock<Indexed> = LazyLock::new(|| {
    let data: Data = serde_json::from_str(DATA)
        .unwrap_or_else(|e| panic!("vendored caniemail data unreadable: {e}"));
    let index = data
        .data
        .iter()
        .enumerate()
        .map(|(i, f)| (f.slug.clone(), i))
        .collect();
    Indexed { data, index }
});

/// Support of one client as caniemail writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Support {
    Yes,
    Partial,
    No,
    Unknown,
}

/// `"a #1 #3"` -> (Partial, ["1", "3"]).
pub fn support_of(value: &str) -> (Support, Vec<String>) {
    let mut parts = value.split_whitespace();
    let s = match parts.next() {
        Some("y") => Support::Yes,
        Some("n") => Support::No,
        Some("a") => Support::Partial,
        _ => Support::Unknown,
    };
    let notes = parts
        .filter_map(|p| p.strip_prefix('#'))
        .map(str::to_string)
        .collect();
    (s, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendored_data_parses_and_is_indexed() {
        assert!(CANIEMAIL.data.data.len() > 250);
        let f = CANIEMAIL.feature("css-display-flex").expect("a known slug");
        assert_eq!(f.category, "css");
        assert!(!f.stats.0.is_empty());
        assert_eq!(VERSION.trim(), "2.0.2");
    }

    #[test]
    fn support_values_carry_their_notes() {
        assert_eq!(
            support_of("a #1 #3"),
            (Support::Partial, vec!["1".into(), "3".into()])
        );
        assert_eq!(support_of("y"), (Support::Yes, vec![]));
        assert_eq!(support_of("u").0, Support::Unknown);
    }
}
