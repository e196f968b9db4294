//! Peer names: the one piece of user text that travels in every registry message.
//!
//! A name is what a person types to call someone (`call kitchen`), what the
//! registry prints in its table, and what scripts split on whitespace, so the
//! rules keep it short, printable and free of spaces while still allowing
//! non-English names (`büro`, `кухня`). Because people read names rather
//! than compare bytes, uniqueness is decided on a [`NameKey`]: two names that
//! differ only in case, compatibility form or confusable letters (`alice`,
//! `Alice`, `аlice` with a Cyrillic а) have the same key, and the registry
//! holds at most one name per key.

use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// Longest name in bytes of UTF-8 (not characters), so a frame's size is bounded.
pub const MAX_NAME_LEN: usize = 32;

/// Why a string is not a valid peer name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`] bytes of UTF-8.
    TooLong(usize),
    /// The bytes are not UTF-8.
    NotUtf8,
    /// The name contains this character, which is not allowed (or not allowed first).
    BadChar(char),
    /// The name ends with this separator (`-`, `_` or `.`): `alice.` would
    /// otherwise be a second `alice` to a reader.
    BadEnd(char),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => write!(f, "a name cannot be empty"),
            NameError::TooLong(n) => {
                write!(f, "a name is at most {MAX_NAME_LEN} bytes of UTF-8, this one is {n}")
            }
            NameError::NotUtf8 => write!(f, "a name must be UTF-8"),
            NameError::BadChar(c) => write!(
                f,
                "a name may hold only letters, digits, '-', '_' and '.', starting with a letter or digit (found {c:?})"
            ),
            NameError::BadEnd(c) => write!(
                f,
                "a name must end with a letter or digit (found {c:?} at the end)"
            ),
        }
    }
}

impl std::error::Error for NameError {}

/// A validated peer name: 1 to [`MAX_NAME_LEN`] bytes of UTF-8, made of Unicode
/// letters and digits plus `-`, `_` and `.`, starting and ending with a letter
/// or digit.
///
/// Names compare byte for byte (`Alice` and `alice` are two spellings); the
/// registry decides uniqueness on [`Name::keys`], under which they are one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

impl Name {
    /// Checks `s` against the name rules.
    pub fn new(s: &str) -> Result<Name, NameError> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong(s.len()));
        }
        for (i, c) in s.chars().enumerate() {
            let ok = c.is_alphanumeric() || (i > 0 && matches!(c, '-' | '_' | '.'));
            if !ok {
                return Err(NameError::BadChar(c));
            }
        }
        match s.chars().last() {
            Some(c @ ('-' | '_' | '.')) => Err(NameError::BadEnd(c)),
            _ => Ok(Name(s.to_owned())),
        }
    }

    /// Checks raw bytes from the wire against the name rules.
    pub fn from_bytes(b: &[u8]) -> Result<Name, NameError> {
        if b.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong(b.len()));
        }
        let s = std::str::from_utf8(b).map_err(|_| NameError::NotUtf8)?;
        Name::new(s)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The look-alike keys: two names are one name to the registry when any
    /// key of one equals any key of the other.
    ///
    /// With skeleton UTS #39's (section 4, with its confusables table) and
    /// fold full Unicode case folding, the keys are skeleton(fold(NFKC(name)))
    /// (`ALICE` meets `alice`) and skeleton(fold(skeleton(NFKC(name)))), whose
    /// inner skeleton reads a capital I as the l it looks like before folding
    /// turns it into an i (`AIice` meets `alice`).
    pub fn keys(&self) -> [NameKey; 2] {
        let nfkc: String = self.0.nfkc().collect();
        let folded = caseless::default_case_fold_str(&nfkc);
        let shapes: String = unicode_security::skeleton(&nfkc).collect();
        let shapes_folded = caseless::default_case_fold_str(&shapes);
        [
            NameKey(unicode_security::skeleton(&folded).collect()),
            NameKey(unicode_security::skeleton(&shapes_folded).collect()),
        ]
    }

    /// Whether this name and `other` are look-alikes ([`Name::keys`]); a name
    /// resembles itself.
    pub fn resembles(&self, other: &Name) -> bool {
        let theirs = other.keys();
        self.keys().iter().any(|k| theirs.contains(k))
    }
}

/// The Unicode version of the confusables table and of NFKC behind
/// [`Name::keys`] (docs/protocol.md 3.2 names it; a test keeps the two equal).
pub const NAME_KEY_UNICODE_VERSION: (u64, u64, u64) = unicode_security::UNICODE_VERSION;

/// The Unicode version of the case folding behind [`Name::keys`].
pub const NAME_KEY_CASE_FOLDING_VERSION: (u64, u64, u64) = caseless::UNICODE_VERSION;

/// What [`Name::keys`] returns: a name reduced to how it reads, used only to
/// compare names, never shown or sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameKey(String);

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Name, NameError> {
        Name::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_international_names() {
        for ok in [
            "alice",
            "kitchen-pi",
            "a",
            "büro",
            "кухня",
            "pi_4.local",
            "0day",
        ] {
            assert!(Name::new(ok).is_ok(), "{ok}");
        }
        assert!(Name::new(&"x".repeat(MAX_NAME_LEN)).is_ok());
    }

    #[test]
    fn refuses_what_breaks_commands_or_tables() {
        assert_eq!(Name::new(""), Err(NameError::Empty));
        assert_eq!(Name::new("a b"), Err(NameError::BadChar(' ')));
        assert_eq!(Name::new("-x"), Err(NameError::BadChar('-')));
        assert_eq!(Name::new("a\nb"), Err(NameError::BadChar('\n')));
        assert_eq!(Name::new("a:b"), Err(NameError::BadChar(':')));
        assert_eq!(
            Name::new(&"x".repeat(MAX_NAME_LEN + 1)),
            Err(NameError::TooLong(MAX_NAME_LEN + 1))
        );
        assert_eq!(Name::from_bytes(&[0x61, 0xff]), Err(NameError::NotUtf8));
        assert_eq!(Name::new("alice."), Err(NameError::BadEnd('.')));
        assert_eq!(Name::new("alice-"), Err(NameError::BadEnd('-')));
        assert_eq!(Name::new("a_"), Err(NameError::BadEnd('_')));
    }

    fn n(s: &str) -> Name {
        Name::new(s).unwrap()
    }

    #[test]
    fn look_alikes_share_a_key() {
        let alice = n("alice");
        for same in [
            "Alice",
            "ALICE",
            "аlice",      // Cyrillic а
            "AIice",      // capital I for l
            "a1ice",      // digit one for l
            "ＡＬＩＣＥ", // fullwidth, folded by NFKC
            "ΑLICE",      // Greek capital Alpha
        ] {
            assert!(n(same).resembles(&alice), "{same}");
            assert!(alice.resembles(&n(same)), "{same}");
        }
        assert!(n("straße").resembles(&n("STRASSE")));
        assert!(n("büro").resembles(&n("BÜRO")));
        // A compatibility ligature is its letters.
        assert!(n("\u{fb01}le").resembles(&n("file")));
    }

    #[test]
    fn different_names_keep_different_keys() {
        for (a, b) in [
            ("alice", "alicia"),
            ("alice", "bob"),
            ("kitchen", "kitchen2"),
            ("büro", "buro2"),
            ("кухня", "kitchen"),
            ("pi-4", "pi-5"),
        ] {
            assert!(!n(a).resembles(&n(b)), "{a} {b}");
        }
    }

    #[test]
    fn the_unicode_versions_are_the_ones_the_spec_names() {
        // docs/protocol.md 3.2 names these; a crate update that moves them
        // must update the spec too.
        assert_eq!(NAME_KEY_UNICODE_VERSION, (18, 0, 0));
        assert_eq!(NAME_KEY_CASE_FOLDING_VERSION, (16, 0, 0));
        assert_eq!(unicode_normalization::UNICODE_VERSION, (18, 0, 0));
    }
}
