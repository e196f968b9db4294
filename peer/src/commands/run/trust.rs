//! Who may call this peer, in the peer: the allow file (`--allow PATH`,
//! default `allow` beside the identity file) read at start, the key a call
//! must prove (the registry's, or a pin in the allow file), and the `trust`
//! command that appends a caller's key. The file's format and parser are
//! the library's ([`peercall::call::allow`]); this module does the file IO.

use super::Peer;
use crate::exit;
use crate::identity_file;
use peercall::call::allow::{AllowList, MAX_ALLOW_FILE_LEN};
use peercall::identity::PublicKey;
use peercall::wire::Name;
use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The allow file's name beside the identity file.
pub const ALLOW_FILE_NAME: &str = "allow";

/// The allow file and the keys it held when read (plus those trusted since).
pub(super) struct Allowed {
    /// Where it is.
    pub path: PathBuf,
    /// Its keys.
    pub list: AllowList,
}

impl Allowed {
    /// Reads the allow file: `given` (`--allow`), else [`ALLOW_FILE_NAME`]
    /// beside the identity file. A missing file allows nobody; bad lines
    /// are reported on stderr and skipped; a file that cannot be read is an
    /// error (exit code returned), since running without it would quietly
    /// refuse everyone the user meant to allow.
    pub fn load(given: Option<&Path>, identity: Option<&Path>) -> Result<Allowed, u8> {
        let path = match given {
            Some(p) => p.to_path_buf(),
            None => {
                let id = identity_file::resolve(identity).map_err(|e| {
                    eprintln!("peercall: {e}");
                    exit::IDENTITY
                })?;
                id.parent()
                    .unwrap_or_else(|| Path::new("."))
                    .join(ALLOW_FILE_NAME)
            }
        };
        let text = match read_limited(&path) {
            Ok(Some(t)) => t,
            Ok(None) => String::new(),
            Err(e) => {
                eprintln!(
                    "peercall: cannot read the allow file {}: {e}; fix it or name another with --allow",
                    path.display()
                );
                return Err(exit::LOCAL);
            }
        };
        let (list, errors) = AllowList::parse(&text);
        for e in errors {
            eprintln!("peercall: allow file {}: {e}; line skipped", path.display());
        }
        Ok(Allowed { path, list })
    }

    /// Appends `key` (with `name`) to the file and the list.
    pub fn trust(&mut self, key: PublicKey, name: Option<&str>) -> io::Result<()> {
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.path)?;
        let ends_open = std::fs::read(&self.path)
            .map(|b| b.last().is_some_and(|&c| c != b'\n'))
            .unwrap_or(false);
        let mut line = AllowList::line(&key, name);
        if ends_open {
            line.insert(0, '\n');
        }
        f.write_all(line.as_bytes())?;
        f.sync_all()?;
        self.list.add(key, name);
        Ok(())
    }

    /// The key written beside `name` in the allow file, if any (a pin).
    pub fn pinned(&self, name: &Name) -> Option<PublicKey> {
        self.list
            .entries()
            .iter()
            .find(|e| e.name.as_deref() == Some(name.as_str()))
            .map(|e| e.key)
    }
}

/// The file's text; `None` when it does not exist.
fn read_limited(path: &Path) -> io::Result<Option<String>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut text = String::new();
    f.take(MAX_ALLOW_FILE_LEN + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_ALLOW_FILE_LEN {
        return Err(io::Error::other(format!(
            "larger than {MAX_ALLOW_FILE_LEN} bytes"
        )));
    }
    Ok(Some(text))
}

impl Peer {
    /// `trust`: the current call's peer key goes into the allow file.
    pub(super) fn trust_caller(&mut self, now: Instant) {
        let Some(s) = self.phone.status(now) else {
            println!("cannot trust: no call (trust adds the calling peer's key)");
            return;
        };
        if self.allowed.list.contains(&s.peer_key) {
            println!(
                "{} ({}) is already in the allow file {}",
                s.peer,
                s.peer_key,
                self.allowed.path.display()
            );
            return;
        }
        match self.allowed.trust(s.peer_key, Some(s.peer.as_str())) {
            Ok(()) => {
                println!(
                    "trusted {} ({}): added to the allow file {}",
                    s.peer,
                    s.peer_key,
                    self.allowed.path.display()
                );
                if s.phase == peercall::call::Phase::Alerting {
                    // The ringing screen loses its "unverified" and Trust.
                    let from = self
                        .calls
                        .peer(s.conn)
                        .map_or_else(|| "?".to_string(), |p| p.to_string());
                    self.show_phase(crate::window::model::Phase::Ringing {
                        peer: s.peer.to_string(),
                        from,
                        key: None,
                    });
                }
            }
            Err(e) => println!(
                "cannot trust {}: cannot write the allow file {}: {e}",
                s.peer,
                self.allowed.path.display()
            ),
        }
    }

    /// The key `name` must prove: the registry's `from_registry`, which a
    /// pin in the allow file, if any, must agree with. `Err` is the line to
    /// print and the exit code when they disagree.
    pub(super) fn expected_key(
        &self,
        name: &Name,
        from_registry: PublicKey,
    ) -> Result<PublicKey, (String, u8)> {
        match self.allowed.pinned(name) {
            Some(pin) if pin != from_registry => Err((
                format!(
                    "not calling {name}: the registry gives key {from_registry} but the allow file {} pins {pin}",
                    self.allowed.path.display()
                ),
                exit::WRONG_KEY,
            )),
            _ => Ok(from_registry),
        }
    }
}
