//! The identity file: where a peer keeps the secret seed of its long-term key
//! pair ([`peercall::identity::Identity`]), created on first use with mode
//! 0600 in the user's state directory (or `$STATE_DIRECTORY` under systemd),
//! and read back the same every time so the public key never changes.
//!
//! The file is text: `#` comment lines, then one line of standard base64
//! holding the 32-byte seed. A file that others can read is refused, as ssh
//! refuses a private key with open permissions: a key that may have leaked
//! is no longer proof of who is calling.

use peercall::identity::{Identity, SEED_LEN};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The identity file's name inside the state directory.
pub const IDENTITY_FILE_NAME: &str = "identity";
/// The state directory's name under `$XDG_STATE_HOME` (or `~/.local/state`).
pub const STATE_DIR_NAME: &str = "peercall";
/// Largest identity file read: a seed line and a few comment lines.
pub const MAX_IDENTITY_FILE_LEN: u64 = 4096;

const HEADER: &str = "# peercall identity: the secret half of this peer's key. Keep it private;\n\
# `peercall id` prints the public half to give to others.\n";

/// Why the identity could not be read or created. Each says what to do.
#[derive(Debug)]
pub enum IdentityFileError {
    /// No `--identity`, and neither `$STATE_DIRECTORY`, `$XDG_STATE_HOME`
    /// nor `$HOME` is set.
    NoStateDir,
    /// Reading, creating or writing the file (or its directory) failed.
    Io(PathBuf, io::Error),
    /// The file is readable or writable by others than its owner.
    OpenPermissions(PathBuf, u32),
    /// The file does not hold a seed line.
    Malformed(PathBuf),
}

impl fmt::Display for IdentityFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityFileError::NoStateDir => write!(
                f,
                "no place for this peer's identity: set HOME or XDG_STATE_HOME, or give --identity PATH"
            ),
            IdentityFileError::Io(p, e) => write!(f, "identity file {}: {e}", p.display()),
            IdentityFileError::OpenPermissions(p, mode) => write!(
                f,
                "identity file {} has mode {mode:04o}, so others may read the secret key: run chmod 600 {}",
                p.display(),
                p.display()
            ),
            IdentityFileError::Malformed(p) => write!(
                f,
                "identity file {} does not hold a peercall identity (a line of base64 for {SEED_LEN} bytes); move it away to create a new one",
                p.display()
            ),
        }
    }
}

impl std::error::Error for IdentityFileError {}

/// The state directory a peer keeps its identity (and allow file) in, from
/// the environment: `$STATE_DIRECTORY` (systemd's `StateDirectory=`; its
/// first entry), else `$XDG_STATE_HOME/peercall`, else
/// `$HOME/.local/state/peercall`.
pub fn default_state_dir() -> Result<PathBuf, IdentityFileError> {
    state_dir_from(|k| std::env::var_os(k).filter(|v| !v.is_empty()))
}

fn state_dir_from(
    var: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<PathBuf, IdentityFileError> {
    if let Some(dirs) = var("STATE_DIRECTORY") {
        // systemd joins several StateDirectory= entries with ':'.
        let dirs = dirs.to_string_lossy().into_owned();
        if let Some(first) = dirs.split(':').find(|d| !d.is_empty()) {
            return Ok(PathBuf::from(first));
        }
    }
    if let Some(x) = var("XDG_STATE_HOME") {
        return Ok(PathBuf::from(x).join(STATE_DIR_NAME));
    }
    if let Some(home) = var("HOME") {
        return Ok(PathBuf::from(home)
            .join(".local/state")
            .join(STATE_DIR_NAME));
    }
    Err(IdentityFileError::NoStateDir)
}

/// The identity file to use: `--identity PATH` when given, else
/// [`IDENTITY_FILE_NAME`] in [`default_state_dir`].
pub fn resolve(given: Option<&Path>) -> Result<PathBuf, IdentityFileError> {
    match given {
        Some(p) => Ok(p.to_path_buf()),
        None => Ok(default_state_dir()?.join(IDENTITY_FILE_NAME)),
    }
}

/// Whether [`load_or_create`] read an existing identity or made a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The file was there.
    Loaded,
    /// The file was created now.
    Created,
}

/// Reads the identity at `path`, or creates it (mode 0600, its directory
/// 0700 when made here) from a fresh seed when the file does not exist.
pub fn load_or_create(path: &Path) -> Result<(Identity, Origin), IdentityFileError> {
    match load(path) {
        Err(IdentityFileError::Io(_, e)) if e.kind() == io::ErrorKind::NotFound => {}
        other => return other.map(|id| (id, Origin::Loaded)),
    }
    let io_err = |e| IdentityFileError::Io(path.to_path_buf(), e);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err)?;
    }
    let mut seed = [0u8; SEED_LEN];
    crate::random_bytes(&mut seed).map_err(io_err)?;
    let identity = Identity::from_seed(&seed);
    let text = format!("{HEADER}{}\n", encode(&seed));
    // create_new: two peers starting at once must not both write a key; the
    // loser reads the winner's.
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return load(path).map(|id| (id, Origin::Loaded))
        }
        Err(e) => return Err(io_err(e)),
    };
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_err)?;
    Ok((identity, Origin::Created))
}

/// Reads the identity at `path`; refuses a file others can read or write.
pub fn load(path: &Path) -> Result<Identity, IdentityFileError> {
    let io_err = |e| IdentityFileError::Io(path.to_path_buf(), e);
    let file = File::open(path).map_err(io_err)?;
    let mode = file.metadata().map_err(io_err)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(IdentityFileError::OpenPermissions(path.to_path_buf(), mode));
    }
    let mut text = String::new();
    file.take(MAX_IDENTITY_FILE_LEN)
        .read_to_string(&mut text)
        .map_err(|_| IdentityFileError::Malformed(path.to_path_buf()))?;
    let seed = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(decode)
        .ok_or_else(|| IdentityFileError::Malformed(path.to_path_buf()))?;
    Ok(Identity::from_seed(&seed))
}

fn encode(seed: &[u8; SEED_LEN]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(seed)
}

fn decode(line: &str) -> Option<[u8; SEED_LEN]> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(line)
        .ok()?
        .try_into()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "peercall-identity-{tag}-{}-{:x}",
            std::process::id(),
            crate::random_u64()
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn created_once_with_mode_0600_then_read_back_the_same() {
        let dir = temp_dir("create");
        let path = dir.join("sub/identity");
        let (a, origin) = load_or_create(&path).unwrap();
        assert_eq!(origin, Origin::Created);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(dir.join("sub")).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let (b, origin) = load_or_create(&path).unwrap();
        assert_eq!(origin, Origin::Loaded);
        assert_eq!(a.public(), b.public());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn two_identities_differ() {
        let dir = temp_dir("differ");
        let (a, _) = load_or_create(&dir.join("a")).unwrap();
        let (b, _) = load_or_create(&dir.join("b")).unwrap();
        assert_ne!(a.public(), b.public());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_readable_or_garbled_file_is_refused_with_what_to_do() {
        let dir = temp_dir("refuse");
        let path = dir.join("identity");
        load_or_create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create(&path).unwrap_err();
        assert!(matches!(e, IdentityFileError::OpenPermissions(_, 0o644)));
        assert!(e.to_string().contains("chmod 600"), "{e}");
        fs::write(&path, "# nothing\nnot base64\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let e = load_or_create(&path).unwrap_err();
        assert!(matches!(e, IdentityFileError::Malformed(_)), "{e}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_state_directory_follows_systemd_then_xdg_then_home() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        let got = state_dir_from(env(&[
            ("STATE_DIRECTORY", "/var/lib/peercall:/var/lib/other"),
            ("XDG_STATE_HOME", "/x"),
            ("HOME", "/h"),
        ]));
        assert_eq!(got.unwrap(), PathBuf::from("/var/lib/peercall"));
        let got = state_dir_from(env(&[("XDG_STATE_HOME", "/x"), ("HOME", "/h")]));
        assert_eq!(got.unwrap(), PathBuf::from("/x/peercall"));
        let got = state_dir_from(env(&[("HOME", "/h")]));
        assert_eq!(got.unwrap(), PathBuf::from("/h/.local/state/peercall"));
        assert!(matches!(
            state_dir_from(env(&[])),
            Err(IdentityFileError::NoStateDir)
        ));
    }
}
