//! Where a call's recording goes. `--video-out file:PATH` and
//! `--audio-out wav:PATH` name a stem, not one file: each call is recorded
//! to `STEM-PEER-N.EXT` beside PATH, N the smallest number from 1 whose
//! file does not exist yet, so neither the next call nor a restarted peer
//! overwrites an earlier recording. The file is created here (empty, with
//! `create_new`, so two peers recording beside each other cannot pick the
//! same name) and filled by the call's sinks.

use super::{AudioSink, MediaOptions, VideoSink};
use std::fs::OpenOptions;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

/// The most recordings of one peer beside one stem; past it the directory
/// wants tidying, not a longer search.
pub const MAX_RECORDINGS: u32 = 100_000;

/// Creates, empty, the file this call with `peer` is recorded to, for the
/// sink path `path`, and returns its path.
pub fn reserve(path: &Path, peer: &str) -> io::Result<PathBuf> {
    for n in 1..=MAX_RECORDINGS {
        let candidate = numbered(path, peer, n)?;
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(_) => return Ok(candidate),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{MAX_RECORDINGS} recordings of {peer} are already beside {}; move some away",
        path.display()
    )))
}

/// `opts` for one call with `peer`: a file or WAV sink becomes the file
/// reserved for this call's recording (see [`reserve`]).
pub fn for_call(opts: &MediaOptions, peer: &str) -> io::Result<MediaOptions> {
    let mut call = opts.clone();
    if let VideoSink::File(p) = &opts.video_out {
        call.video_out = VideoSink::File(reserve(p, peer)?);
    }
    if let AudioSink::Wav(p) = &opts.audio_out {
        match reserve(p, peer) {
            Ok(file) => call.audio_out = AudioSink::Wav(file),
            Err(e) => {
                // Only the video file is this call's yet.
                if let VideoSink::File(v) = &call.video_out {
                    let _ = std::fs::remove_file(v);
                }
                return Err(e);
            }
        }
    }
    Ok(call)
}

/// Removes the files [`for_call`] reserved, for a call whose media did not
/// start: an empty recording would only mislead.
pub fn forget(call: &MediaOptions) {
    if let VideoSink::File(p) = &call.video_out {
        let _ = std::fs::remove_file(p);
    }
    if let AudioSink::Wav(p) = &call.audio_out {
        let _ = std::fs::remove_file(p);
    }
}

/// The lines that say where a call is recorded (`recording video to PATH`,
/// `recording sound to PATH`), for the options [`for_call`] returned.
pub fn announcements(call: &MediaOptions) -> Vec<String> {
    let mut lines = Vec::new();
    if let VideoSink::File(p) = &call.video_out {
        lines.push(format!("recording video to {}", p.display()));
    }
    if let AudioSink::Wav(p) = &call.audio_out {
        lines.push(format!("recording sound to {}", p.display()));
    }
    lines
}

/// `STEM-PEER-N.EXT` in PATH's directory (no `.EXT` when PATH has none).
fn numbered(path: &Path, peer: &str, n: u32) -> io::Result<PathBuf> {
    let stem = path.file_stem().ok_or_else(|| {
        io::Error::new(
            ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let mut name = stem.to_os_string();
    name.push(format!("-{peer}-{n}"));
    if let Some(ext) = path.extension() {
        name.push(".");
        name.push(ext);
    }
    Ok(path.with_file_name(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("peercall-recording-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn each_call_gets_the_next_free_number_and_nothing_is_overwritten() {
        let dir = scratch("next");
        let stem = dir.join("call.mjpeg");
        let first = reserve(&stem, "bob").unwrap();
        assert_eq!(first, dir.join("call-bob-1.mjpeg"));
        std::fs::write(&first, b"first call").unwrap();
        assert_eq!(reserve(&stem, "bob").unwrap(), dir.join("call-bob-2.mjpeg"));
        // Another peer counts on its own.
        assert_eq!(
            reserve(&stem, "carol").unwrap(),
            dir.join("call-carol-1.mjpeg")
        );
        // A gap (a recording moved away) is filled first.
        std::fs::remove_file(dir.join("call-bob-2.mjpeg")).unwrap();
        assert_eq!(reserve(&stem, "bob").unwrap(), dir.join("call-bob-2.mjpeg"));
        assert_eq!(std::fs::read(&first).unwrap(), b"first call");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_stem_without_extension_or_directory_is_kept_as_it_is() {
        assert_eq!(
            numbered(Path::new("rec"), "bob", 3).unwrap(),
            PathBuf::from("rec-bob-3")
        );
        assert_eq!(
            numbered(Path::new("a.b/sound.wav"), "x.y", 1).unwrap(),
            PathBuf::from("a.b/sound-x.y-1.wav")
        );
        assert!(numbered(Path::new("/"), "bob", 1).is_err());
    }

    #[test]
    fn a_missing_directory_is_an_error_not_a_search() {
        let e = reserve(Path::new("/no/such/dir/call.wav"), "bob").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }
}
