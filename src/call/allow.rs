//! The allow file: whose calls a peer answers by itself (`--auto-accept`)
//! and which callers ring as verified. Like SSH's `authorized_keys`: one
//! public key per line in its 44-character text form (as `peercall id`
//! prints it), optionally followed by whitespace and a name for people to
//! read; `#` starts a comment line; blank lines are skipped.
//!
//! ```text
//! # the family
//! O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik= grandma
//! iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=
//! ```
//! Parsing is pure: a bad line is reported with its number and skipped, so
//! one typo does not lock everyone out; only a file that cannot be read at
//! all is the shell's error.

use crate::identity::{KeyError, PublicKey};
use std::fmt;

/// Largest allow file read, in bytes: thousands of entries; a larger file
/// is not an allow file (the shell refuses it).
pub const MAX_ALLOW_FILE_LEN: u64 = 1024 * 1024;
/// Longest name kept after a key, in bytes (a longer one is cut at a
/// character boundary): it is only shown to the user.
pub const MAX_ALLOW_NAME_LEN: usize = 64;

/// One allowed caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    /// The caller's public key.
    pub key: PublicKey,
    /// The name written after it, if any.
    pub name: Option<String>,
}

/// A line that is not a key, with its 1-based number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowLineError {
    /// The line's number, from 1.
    pub line: usize,
    /// Why its first word is not a public key.
    pub error: KeyError,
}

impl fmt::Display for AllowLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: not a public key: {}", self.line, self.error)
    }
}

/// The keys of an allow file, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    entries: Vec<AllowEntry>,
}

impl AllowList {
    /// Reads the text of an allow file: the entries of its good lines, and
    /// an error for each bad one.
    pub fn parse(text: &str) -> (AllowList, Vec<AllowLineError>) {
        let mut list = AllowList::default();
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            match word.parse::<PublicKey>() {
                Ok(key) => {
                    let name = clip(rest.trim());
                    list.entries.push(AllowEntry {
                        key,
                        name: (!name.is_empty()).then(|| name.to_owned()),
                    });
                }
                Err(error) => errors.push(AllowLineError { line: i + 1, error }),
            }
        }
        (list, errors)
    }

    /// Whether `key` is allowed.
    pub fn contains(&self, key: &PublicKey) -> bool {
        self.entries.iter().any(|e| e.key == *key)
    }

    /// The name written beside `key`, if it is there with one.
    pub fn name_of(&self, key: &PublicKey) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.key == *key)
            .and_then(|e| e.name.as_deref())
    }

    /// Adds `key` (after a `trust`); the file gets [`AllowList::line`].
    pub fn add(&mut self, key: PublicKey, name: Option<&str>) {
        if !self.contains(&key) {
            self.entries.push(AllowEntry {
                key,
                name: name.map(|n| clip(n).to_owned()).filter(|n| !n.is_empty()),
            });
        }
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[AllowEntry] {
        &self.entries
    }

    /// How many keys are allowed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The line that allows `key` (with `name`, made one line), newline included.
    pub fn line(key: &PublicKey, name: Option<&str>) -> String {
        let name: String = name
            .map(clip)
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let name = name.trim();
        if name.is_empty() {
            format!("{key}\n")
        } else {
            format!("{key} {name}\n")
        }
    }
}

/// `text` cut to [`MAX_ALLOW_NAME_LEN`] bytes at a character boundary.
fn clip(text: &str) -> &str {
    let mut end = text.len().min(MAX_ALLOW_NAME_LEN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn key(n: u8) -> PublicKey {
        Identity::from_seed(&[n; 32]).public()
    }

    #[test]
    fn keys_names_comments_and_bad_lines() {
        let text = format!(
            "# family\n\n{} grandma  \n  {}\nnot-a-key bob\n{}\tthe door  bell\n{}x\n",
            key(1),
            key(2),
            key(3),
            key(4)
        );
        let (list, errors) = AllowList::parse(&text);
        assert_eq!(list.len(), 3);
        assert!(list.contains(&key(1)) && list.contains(&key(2)) && list.contains(&key(3)));
        assert!(!list.contains(&key(4)));
        assert_eq!(list.name_of(&key(1)), Some("grandma"));
        assert_eq!(list.name_of(&key(2)), None);
        assert_eq!(list.name_of(&key(3)), Some("the door  bell"));
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [5, 7]);
        assert!(errors[0]
            .to_string()
            .starts_with("line 5: not a public key"));
    }

    #[test]
    fn an_added_line_reads_back_and_names_stay_one_line() {
        let mut list = AllowList::default();
        list.add(key(5), Some("door\nbell"));
        list.add(key(5), Some("again"));
        assert_eq!(list.len(), 1);
        let line = AllowList::line(&key(5), Some("door\nbell"));
        assert_eq!(line.matches('\n').count(), 1);
        let (back, errors) = AllowList::parse(&line);
        assert!(errors.is_empty());
        assert_eq!(back.name_of(&key(5)), Some("door bell"));
        let long = "é".repeat(100);
        let (back, _) = AllowList::parse(&AllowList::line(&key(6), Some(&long)));
        assert!(back.name_of(&key(6)).unwrap().len() <= MAX_ALLOW_NAME_LEN);
        assert_eq!(AllowList::line(&key(7), None), format!("{}\n", key(7)));
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "\u{0}",
            "#",
            " \t ",
            "=",
            "é",
            &"A".repeat(44),
            &"x ".repeat(1000),
        ] {
            let (list, _) = AllowList::parse(text);
            assert!(list.is_empty());
        }
    }
}
