//! Plugin names, validated and normalised once.
//!
//! A plugin's name is its crate's name. cargo treats `-` and `_` in a crate
//! name as the same character and registries refuse two crates that differ
//! only in case, so two spellings name one plugin when they are equal after
//! [`normalize`]. A [`PluginName`] keeps the spelling it was made from (the
//! crate's real name, needed to download it or to refer to it in Rust code)
//! and compares, orders and hashes by its normalised form, so after parsing
//! nobody has to normalise a name again.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// The SDK crate every plugin depends on; the host provides its version.
pub const API_CRATE: &str = "scope-plugin-api";

/// Crates of Scope itself: never plugins.
pub const RESERVED: [&str; 3] = [API_CRATE, "scope-host", "scopectl"];

/// The longest name a registry accepts.
const MAX_LEN: usize = 64;

/// The form in which two spellings of one name are equal: lowercase, `-`
/// for `_`.
pub fn normalize(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '_' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Why a name is not a plugin name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    /// The name as given.
    pub name: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a plugin name: {}", self.name, self.reason)
    }
}

impl std::error::Error for NameError {}

/// Why a name of Scope's own crates is refused.
const RESERVED_REASON: &str = "that name belongs to Scope itself";

impl NameError {
    /// The name is well formed but one of Scope's own crates.
    pub fn is_reserved(&self) -> bool {
        self.reason == RESERVED_REASON
    }
}

/// A plugin's name: a valid crate name that is not one of Scope's own.
#[derive(Clone)]
pub struct PluginName {
    spelled: Box<str>,
    key: Box<str>,
}

impl PluginName {
    /// Checks `name` against cargo's rule for crate names (ASCII letters,
    /// digits, `-` and `_`, starting with a letter, at most 64 characters)
    /// and refuses Scope's own crates.
    pub fn new(name: &str) -> Result<PluginName, NameError> {
        let refuse = |reason| {
            Err(NameError {
                name: name.to_owned(),
                reason,
            })
        };
        if name.is_empty() {
            return refuse("it is empty");
        }
        if name.len() > MAX_LEN {
            return refuse("it is longer than 64 characters");
        }
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return refuse("it must start with a letter");
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return refuse("use only letters, digits, `-` and `_`");
        }
        let key = normalize(name);
        if RESERVED.contains(&key.as_str()) {
            return refuse(RESERVED_REASON);
        }
        Ok(PluginName {
            spelled: name.into(),
            key: key.into(),
        })
    }

    /// The name as the crate spells it.
    pub fn as_str(&self) -> &str {
        &self.spelled
    }

    /// The normalised form: what `plugins.toml` keys and reports use.
    pub fn normalized(&self) -> &str {
        &self.key
    }

    /// The crate's name as a Rust identifier (`my-fx` → `my_fx`).
    pub fn rust_ident(&self) -> String {
        self.spelled.replace('-', "_")
    }

    /// Whether `other` spells this name.
    pub fn matches(&self, other: &str) -> bool {
        *self.key == *normalize(other)
    }
}

impl PartialEq for PluginName {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for PluginName {}

impl PartialOrd for PluginName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PluginName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

impl Hash for PluginName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

/// Maps keyed by `PluginName` can be searched by a normalised `&str`.
impl Borrow<str> for PluginName {
    fn borrow(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for PluginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spelled)
    }
}

impl fmt::Debug for PluginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.spelled, f)
    }
}

impl std::str::FromStr for PluginName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PluginName::new(s)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for PluginName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.spelled)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for PluginName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        PluginName::new(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> PluginName {
        PluginName::new(s).unwrap()
    }

    #[test]
    fn spellings_of_one_name_are_equal_and_keep_their_spelling() {
        assert_eq!(name("scope_invert"), name("scope-invert"));
        assert_eq!(name("Scope-Invert"), name("scope-invert"));
        assert_eq!(name("scope_invert").to_string(), "scope_invert");
        assert_eq!(name("scope_invert").normalized(), "scope-invert");
        assert!(name("my-fx").matches("MY_FX"));
        let set: std::collections::BTreeSet<_> = [name("a_b"), name("a-b")].into();
        assert_eq!(set.len(), 1);
        let map: std::collections::BTreeMap<_, _> = [(name("a_b"), 1)].into();
        assert_eq!(map.get("a-b"), Some(&1));
    }

    #[test]
    fn refuses_what_cannot_be_a_plugin() {
        for (bad, reason) in [
            ("", "it is empty"),
            ("1fx", "it must start with a letter"),
            ("-fx", "it must start with a letter"),
            ("my fx", "use only letters, digits, `-` and `_`"),
            ("../fx", "it must start with a letter"),
            ("fx/..", "use only letters, digits, `-` and `_`"),
            ("scope_plugin_api", "that name belongs to Scope itself"),
            ("scope-host", "that name belongs to Scope itself"),
        ] {
            assert_eq!(PluginName::new(bad).unwrap_err().reason, reason, "{bad:?}");
        }
        assert!(PluginName::new(&"a".repeat(65)).is_err());
        assert!(PluginName::new(&"a".repeat(64)).is_ok());
    }
}
