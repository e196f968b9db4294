//! Peer names: the one piece of user text that travels in every registry message.
//!
//! A name is what a person types to call someone (`call kitchen`), what the
//! registry prints in its table, and what scripts split on whitespace, so the
//! rules keep it short, printable and free of spaces while still allowing
//! non-English names (`büro`, `кухня`).

use std::fmt;

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
        }
    }
}

impl std::error::Error for NameError {}

/// A validated peer name: 1 to [`MAX_NAME_LEN`] bytes of UTF-8, made of Unicode
/// letters and digits plus `-`, `_` and `.`, starting with a letter or digit.
///
/// Names compare byte for byte: `Alice` and `alice` are two different names.
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
        Ok(Name(s.to_owned()))
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
}

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
    }
}
