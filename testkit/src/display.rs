//! A private X screen for a test: an Xvfb server on a display number it
//! picks itself, screenshots of it as RGB pixels, and the keys and clicks a
//! user would give a window on it (xdotool).
//!
//! ```text
//!  Display::start(w, h) ── Xvfb -displayfd 1 ──> ":N" (no race for the number)
//!    .env()          DISPLAY=:N SDL_VIDEODRIVER=x11 SDL_AUDIODRIVER=dummy, for a child
//!    .screenshot()   xwd -root ──> xwd::parse ──> RgbImage (image.rs statistics)
//!    .window(title)  xdotool search ──> Window (its place on the screen)
//!    .key / .click   xdotool windowfocus --sync, key / mousemove, click
//! ```
//!
//! Xvfb is killed when the [`Display`] drops. A missing tool panics with the
//! package to install (scripts/deps.sh installs them all), so a machine
//! without them fails the test instead of passing it.

use crate::image::{Rect, RgbImage};
use crate::xwd;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long Xvfb may take to say which display it took.
pub const XVFB_START: Duration = Duration::from_secs(10);
/// How long one xwd or xdotool run may take before it is killed.
pub const TOOL_RUN: Duration = Duration::from_secs(10);
/// How often a wait for a window looks again.
const POLL: Duration = Duration::from_millis(100);

/// The programs used here and the Debian packages they come in.
const XVFB: (&str, &str) = ("Xvfb", "xvfb");
const XWD: (&str, &str) = ("xwd", "x11-apps");
const XDOTOOL: (&str, &str) = ("xdotool", "xdotool");

/// The full path of `tool`, or a panic naming the package to install.
pub fn require(tool: (&str, &str)) -> PathBuf {
    let (name, package) = tool;
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} not found: the window tests need it; install the Debian package {package} (scripts/deps.sh does)")
        })
}

/// An Xvfb server of its own for one test, killed on drop.
pub struct Display {
    number: u32,
    width: u32,
    height: u32,
    xvfb: Child,
    log: Arc<Mutex<String>>,
}

impl Display {
    /// Starts Xvfb with one screen of `width` x `height` at depth 24, no
    /// TCP listener and a black root window. Xvfb picks a free display
    /// number and writes it to the pipe given with `-displayfd`, so two
    /// tests starting at once cannot take the same one.
    pub fn start(width: u32, height: u32) -> Display {
        let program = require(XVFB);
        let screen = format!("{width}x{height}x24");
        let mut xvfb = Command::new(&program)
            .args(["-displayfd", "1", "-screen", "0", &screen])
            .args(["-nolisten", "tcp", "-br", "-noreset"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let log = Arc::new(Mutex::new(String::new()));
        if let Some(err) = xvfb.stderr.take() {
            let log = log.clone();
            // Drained all the time, so a chatty server never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let out = xvfb.stdout.take().expect("Xvfb's stdout is piped");
        std::thread::spawn(move || {
            let mut out = BufReader::new(out);
            let mut line = String::new();
            let _ = out.read_line(&mut line);
            let _ = tx.send(line);
            // Keep the pipe open until Xvfb exits: it must never write to a closed one.
            let _ = out.read_to_end(&mut Vec::new());
        });
        let line = rx.recv_timeout(XVFB_START).unwrap_or_default();
        let mut display = Display {
            number: 0,
            width,
            height,
            xvfb,
            log,
        };
        match line.trim().parse() {
            Ok(n) => display.number = n,
            Err(_) => panic!(
                "Xvfb did not report a display number within {XVFB_START:?} (got {line:?}); its log:\n{}",
                display.log()
            ),
        }
        display
    }

    /// The display number N of `:N`.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The display name, `:N`, as `DISPLAY` takes it.
    pub fn name(&self) -> String {
        format!(":{}", self.number)
    }

    /// Xvfb's process id (its CPU time is measured apart from the peer's).
    pub fn pid(&self) -> u32 {
        self.xvfb.id()
    }

    /// The screen's size.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// What Xvfb has printed so far (for failure messages).
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The environment that puts an SDL program's window on this screen:
    /// the X11 backend forced, and SDL kept away from sound, which the peer
    /// plays through ALSA itself.
    pub fn env(&self) -> [(&'static str, String); 3] {
        [
            ("DISPLAY", self.name()),
            ("SDL_VIDEODRIVER", "x11".into()),
            ("SDL_AUDIODRIVER", "dummy".into()),
        ]
    }

    /// Runs `tool` on this display with `args`, killing it after [`TOOL_RUN`];
    /// panics when it cannot run, fails, or hangs.
    fn run(&self, tool: (&str, &str), args: &[&str]) -> Output {
        let program = require(tool);
        let out = output_within(
            Command::new(&program)
                .args(args)
                .env("DISPLAY", self.name())
                .stdin(Stdio::null()),
            TOOL_RUN,
        )
        .unwrap_or_else(|e| panic!("{} {}: {e}", tool.0, args.join(" ")));
        assert!(
            out.status.success(),
            "{} {} failed ({}): {}",
            tool.0,
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        out
    }

    /// The whole screen as RGB pixels, through `xwd`.
    pub fn screenshot(&self) -> RgbImage {
        let name = self.name();
        let out = self.run(XWD, &["-root", "-silent", "-display", &name]);
        xwd::parse(&out.stdout).unwrap_or_else(|e| panic!("reading xwd's dump of {name}: {e}"))
    }

    /// The window titled exactly `title`, once it is shown (waits up to
    /// `within`); panics naming the windows there are when it does not come.
    pub fn window(&self, title: &str, within: Duration) -> Window {
        let pattern = format!("^{}$", regex_escape(title));
        let deadline = Instant::now() + within;
        loop {
            let out = output_within(
                Command::new(require(XDOTOOL))
                    .args(["search", "--onlyvisible", "--name", &pattern])
                    .env("DISPLAY", self.name())
                    .stdin(Stdio::null()),
                TOOL_RUN,
            )
            .unwrap_or_else(|e| panic!("xdotool search: {e}"));
            // xdotool exits 1 when nothing matched yet.
            let found = String::from_utf8_lossy(&out.stdout);
            if let Some(id) = found.split_whitespace().next() {
                return Window {
                    id: id.to_owned(),
                    rect: self.geometry(id),
                };
            }
            if Instant::now() >= deadline {
                let all = self.run(XDOTOOL, &["search", "--onlyvisible", "--name", ""]);
                panic!(
                    "no window titled {title:?} on {} within {within:?}; visible windows: {:?}",
                    self.name(),
                    String::from_utf8_lossy(&all.stdout)
                        .split_whitespace()
                        .map(|id| self.title(id))
                        .collect::<Vec<_>>()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    fn title(&self, id: &str) -> String {
        let out = self.run(XDOTOOL, &["getwindowname", id]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Where window `id` is on the screen now.
    fn geometry(&self, id: &str) -> Rect {
        let out = self.run(XDOTOOL, &["getwindowgeometry", "--shell", id]);
        let text = String::from_utf8_lossy(&out.stdout);
        let get = |key: &str| -> u32 {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('=')?.parse::<i64>().ok())
                .map(|v| v.max(0) as u32)
                .unwrap_or_else(|| panic!("no {key} in xdotool's geometry: {text}"))
        };
        Rect::new(get("X"), get("Y"), get("WIDTH"), get("HEIGHT"))
    }

    /// `window` as it is on the screen now (size and place may have changed,
    /// for example after going full screen).
    pub fn refresh(&self, window: &Window) -> Window {
        Window {
            id: window.id.clone(),
            rect: self.geometry(&window.id),
        }
    }

    /// Gives `window` the keyboard and presses `key` (an X keysym name:
    /// `Return`, `Escape`, `h`). There is no window manager on Xvfb, so the
    /// focus is set explicitly and the pointer put inside the window first.
    pub fn key(&self, window: &Window, key: &str) {
        self.run(
            XDOTOOL,
            &[
                "windowfocus",
                "--sync",
                &window.id,
                "mousemove",
                "--window",
                &window.id,
                "1",
                "1",
                "key",
                key,
            ],
        );
    }

    /// Clicks the left button at (`x`, `y`) in `window`'s coordinates.
    pub fn click(&self, window: &Window, x: u32, y: u32) {
        let (x, y) = (x.to_string(), y.to_string());
        self.run(
            XDOTOOL,
            &["mousemove", "--window", &window.id, &x, &y, "click", "1"],
        );
    }

    /// A screenshot of `window` alone, in its own coordinates.
    pub fn window_shot(&self, window: &Window) -> RgbImage {
        self.screenshot().crop(window.rect)
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}

/// A top-level window on a [`Display`].
#[derive(Clone, Debug)]
pub struct Window {
    /// The X window id, as xdotool prints it.
    pub id: String,
    /// Where it was on the screen when found.
    pub rect: Rect,
}

/// Runs `cmd` to completion like [`Command::output`], but kills it and
/// fails after `within`.
fn output_within(cmd: &mut Command, within: Duration) -> std::io::Result<Output> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let pipes = (child.stdout.take(), child.stderr.take());
    // Readers on threads: a full pipe must not stall the child while we wait.
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = read(pipes.0.map(|p| Box::new(p) as _));
    let err = read(pipes.1.map(|p| Box::new(p) as _));
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("did not finish within {within:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// `text` with the characters that are special in xdotool's (POSIX
/// extended) regular expressions escaped.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Writes `shots` as PPM files named `<test>-<label>.ppm` into the target
/// directory's `window-shots/`, and returns that directory, so a failing
/// test can say where to look at what it saw.
pub fn save_shots(test: &str, shots: &[(&str, &RgbImage)]) -> PathBuf {
    let dir = shots_dir();
    let _ = std::fs::create_dir_all(&dir);
    for (label, img) in shots {
        let _ = img.write_ppm(&dir.join(format!("{test}-{label}.ppm")));
    }
    dir
}

/// target/<profile>/window-shots, beside the test executables.
fn shots_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(Path::parent)
        .map(|d| d.join("window-shots"))
        .unwrap_or_else(|| std::env::temp_dir().join("window-shots"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::near;
    use crate::process::{Process, Transcript};

    #[test]
    fn a_new_screen_is_black_and_the_size_asked_for() {
        let d = Display::start(320, 200);
        let shot = d.screenshot();
        assert_eq!((shot.width(), shot.height()), (320, 200));
        assert_eq!(shot.mean_colour(shot.bounds()), [0.0; 3]);
    }

    #[test]
    fn two_screens_started_at_once_get_their_own_numbers() {
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| Display::start(64, 48));
            let b = s.spawn(|| Display::start(64, 48));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_ne!(a.number(), b.number());
    }

    #[test]
    fn screenshots_show_the_colours_drawn() {
        let d = Display::start(64, 48);
        // xsetroot (x11-xserver-utils) paints the root; channel order matters.
        let ok = Command::new("xsetroot")
            .args(["-display", &d.name(), "-solid", "#2ea043"])
            .status()
            .expect("xsetroot not found: install the Debian package x11-xserver-utils (scripts/deps.sh does)");
        assert!(ok.success());
        let shot = d.screenshot();
        assert!(near(shot.mean_colour(shot.bounds()), [46, 160, 67], 0.0));
        assert_eq!(shot.coloured_share(shot.bounds()), 1.0);
    }

    #[test]
    fn keys_and_clicks_reach_the_window_found_by_title() {
        let d = Display::start(400, 300);
        // xev (x11-utils) prints every event its window gets.
        let mut t = Transcript::new();
        let name = d.name();
        let _xev = Process::start_with_env(
            "xev",
            Path::new("xev"),
            &[
                "-name",
                "peercall: x.y",
                "-geometry",
                "200x100+30+40",
                "-event",
                "keyboard",
                "-event",
                "button",
            ],
            &[("DISPLAY", Some(name.as_str()))],
            &t,
        )
        .expect("xev not found: install the Debian package x11-utils (scripts/deps.sh does)");
        let w = d.window("peercall: x.y", Duration::from_secs(10));
        assert_eq!((w.rect.w, w.rect.h), (200, 100), "{w:?}");
        assert_eq!((w.rect.x, w.rect.y), (30, 40), "{w:?}");
        let wait = Duration::from_secs(10);
        d.key(&w, "Return");
        t.next_with(None, "keysym 0xff0d, Return", wait)
            .unwrap_or_else(|e| panic!("{e}:\n{}", t.output()));
        d.click(&w, 150, 70);
        t.next_with(None, "ButtonPress", wait).unwrap();
        let at = t.next_with(None, "root 0x", wait).unwrap();
        assert!(at.contains("(150,70)"), "{at}");
    }

    #[test]
    #[should_panic(expected = "no window titled \"peercall: nobody\"")]
    fn a_missing_window_fails_with_its_title() {
        let d = Display::start(64, 48);
        d.window("peercall: nobody", Duration::from_millis(300));
    }

    #[test]
    fn titles_are_matched_literally() {
        assert_eq!(regex_escape("peercall: a.b"), "peercall: a\\.b");
        assert_eq!(regex_escape("x(1)"), "x\\(1\\)");
    }
}
