//! The registry's state directory: the name→key bindings saved across
//! restarts, so that after a crash or an upgrade the owners get their names
//! back and a newcomer who registers first is refused.
//!
//! The file (`names.json`) is replaced atomically: written to a temporary
//! file in the same directory, synced, renamed over the old one, and the
//! directory synced, so a power cut leaves either the old or the new file,
//! never half of one. A file that cannot be read as bindings is never
//! silently emptied: it is moved aside (`names.json.corrupt-<unix time>`) and
//! reported, so an operator can look at it.

use peercall::identity::PublicKey;
use peercall::registry::Binding;
use peercall::wire::Name;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The bindings file's name inside the state directory.
pub const BINDINGS_FILE: &str = "names.json";
/// The format version written in the file; a file of another version is
/// treated as unreadable (kept aside), not guessed at.
pub const BINDINGS_FORMAT_VERSION: u32 = 1;
/// How often the bindings are saved while owners stay connected, so that
/// after a crash their lease counts from a recent sighting. Coarse: a lease
/// is days long, and each save rewrites the whole file.
pub const LAST_SEEN_SAVE_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// The directory used when `--state-dir` is not given: systemd's
/// `$STATE_DIRECTORY` (from `StateDirectory=`; the first one if several),
/// else `$XDG_STATE_HOME/peercall-registry`, else
/// `~/.local/state/peercall-registry`.
pub fn default_state_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(dirs) = var("STATE_DIRECTORY") {
        let first = dirs.to_string_lossy().split(':').next()?.to_owned();
        return Some(PathBuf::from(first));
    }
    if let Some(x) = var("XDG_STATE_HOME") {
        return Some(PathBuf::from(x).join("peercall-registry"));
    }
    var("HOME").map(|h| PathBuf::from(h).join(".local/state/peercall-registry"))
}

/// Why the state directory cannot be used. One line each, saying what to do.
#[derive(Debug)]
pub enum StateError {
    /// No directory given and none of the variables that name one is set.
    NoDirectory,
    /// The directory cannot be created or written.
    Unusable(PathBuf, io::Error),
    /// The bindings file exists but cannot be read.
    Unreadable(PathBuf, io::Error),
    /// The bindings could not be written.
    Save(PathBuf, io::Error),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::NoDirectory => write!(
                f,
                "no state directory: set --state-dir DIR (or STATE_DIRECTORY, XDG_STATE_HOME or HOME)"
            ),
            StateError::Unusable(d, e) => write!(
                f,
                "state directory {} is not usable ({e}); create it writable for this user or pick another with --state-dir",
                d.display()
            ),
            StateError::Unreadable(p, e) => write!(
                f,
                "cannot read {} ({e}); fix its permissions or pick another --state-dir",
                p.display()
            ),
            StateError::Save(p, e) => write!(f, "cannot save {} ({e})", p.display()),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct FileFormat {
    version: u32,
    names: Vec<SavedBinding>,
}

#[derive(Serialize, Deserialize)]
struct SavedBinding {
    name: String,
    /// The key's text form (base64), as `peercall id` prints it.
    key: String,
    /// Unix seconds.
    last_seen: u64,
}

/// What [`StateDir::open`] found.
pub struct Loaded {
    /// The bindings read (empty for a new directory or a corrupt file).
    pub bindings: Vec<Binding>,
    /// Where a corrupt file was moved, and why it was unreadable.
    pub set_aside: Option<(PathBuf, String)>,
}

/// The registry's state directory.
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// Opens `dir` (creating it, mode 0700 as far as umask allows), checks
    /// that it is writable, and reads the bindings saved there.
    pub fn open(dir: PathBuf) -> Result<(StateDir, Loaded), StateError> {
        fs::create_dir_all(&dir).map_err(|e| StateError::Unusable(dir.clone(), e))?;
        let state = StateDir { dir };
        // Found out now rather than at the first registration.
        let probe = state.dir.join(".write-test");
        File::create(&probe)
            .and_then(|_| fs::remove_file(&probe))
            .map_err(|e| StateError::Unusable(state.dir.clone(), e))?;
        let loaded = state.load()?;
        Ok((state, loaded))
    }

    /// The bindings file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(BINDINGS_FILE)
    }

    fn load(&self) -> Result<Loaded, StateError> {
        let path = self.path();
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Loaded {
                    bindings: Vec::new(),
                    set_aside: None,
                })
            }
            Err(e) => return Err(StateError::Unreadable(path, e)),
        };
        match parse(&text) {
            Ok(bindings) => Ok(Loaded {
                bindings,
                set_aside: None,
            }),
            Err(why) => {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let aside = self.dir.join(format!("{BINDINGS_FILE}.corrupt-{secs}"));
                fs::rename(&path, &aside).map_err(|e| StateError::Unusable(aside.clone(), e))?;
                Ok(Loaded {
                    bindings: Vec::new(),
                    set_aside: Some((aside, why)),
                })
            }
        }
    }

    /// Replaces the saved bindings with `bindings`, atomically.
    pub fn save(&self, bindings: &[Binding]) -> Result<(), StateError> {
        let path = self.path();
        let file = FileFormat {
            version: BINDINGS_FORMAT_VERSION,
            names: bindings
                .iter()
                .map(|b| SavedBinding {
                    name: b.name.to_string(),
                    key: b.key.to_string(),
                    last_seen: b.last_seen,
                })
                .collect(),
        };
        let mut text = serde_json::to_vec_pretty(&file)
            .map_err(|e| StateError::Save(path.clone(), io::Error::other(e)))?;
        text.push(b'\n');
        let tmp = self.dir.join(format!("{BINDINGS_FILE}.tmp"));
        let write = || -> io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            sync_dir(&self.dir)
        };
        write().map_err(|e| StateError::Save(path.clone(), e))
    }
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The bindings in a file's bytes, or why they are not bindings.
fn parse(text: &[u8]) -> Result<Vec<Binding>, String> {
    let file: FileFormat = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    if file.version != BINDINGS_FORMAT_VERSION {
        return Err(format!(
            "format version {} (this registry reads {BINDINGS_FORMAT_VERSION})",
            file.version
        ));
    }
    file.names
        .into_iter()
        .map(|s| {
            let name = Name::new(&s.name).map_err(|e| format!("name {:?}: {e}", s.name))?;
            let key: PublicKey = s.key.parse().map_err(|e| format!("key of {name}: {e}"))?;
            Ok(Binding {
                name,
                key,
                last_seen: s.last_seen,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use peercall::identity::Identity;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "peercall-registry-state-{tag}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn bindings_survive_a_save_and_a_reopen() {
        let dir = temp_dir("roundtrip");
        let (state, loaded) = StateDir::open(dir.clone()).unwrap();
        assert!(loaded.bindings.is_empty());
        let b = vec![Binding {
            name: Name::new("alice").unwrap(),
            key: Identity::from_seed(&[1; 32]).public(),
            last_seen: 1_800_000_000,
        }];
        state.save(&b).unwrap();
        assert!(!dir.join("names.json.tmp").exists());
        let (_, again) = StateDir::open(dir.clone()).unwrap();
        assert_eq!(again.bindings, b);
        assert!(again.set_aside.is_none());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_corrupt_file_is_set_aside_not_emptied() {
        let dir = temp_dir("corrupt");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(BINDINGS_FILE), b"{\"version\":1,\"names\":[{\"na").unwrap();
        let (_, loaded) = StateDir::open(dir.clone()).unwrap();
        let (aside, why) = loaded.set_aside.expect("set aside");
        assert!(!why.is_empty());
        assert!(aside
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("names.json.corrupt-"));
        assert_eq!(
            fs::read(&aside).unwrap(),
            b"{\"version\":1,\"names\":[{\"na"
        );
        assert!(!dir.join(BINDINGS_FILE).exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn another_format_version_or_a_bad_key_is_corrupt() {
        assert!(parse(br#"{"version":2,"names":[]}"#).is_err());
        assert!(
            parse(br#"{"version":1,"names":[{"name":"a","key":"xx","last_seen":1}]}"#).is_err()
        );
        assert!(parse(br#"{"version":1,"names":[]}"#).unwrap().is_empty());
    }
}
