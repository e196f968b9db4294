//! The call window (`--video-out window`): the board's own screen shows the
//! other side's picture with ours in a corner and a status line, an idle
//! screen with the registered peers to call, and the ringing and calling
//! screens with their buttons. It runs on a thread of its own that owns SDL
//! (KMS/DRM on a console, X11 or Wayland on a desktop) and draws a
//! [`model::Model`] that the control loop keeps up to date with
//! [`Update`]s; what the user does comes back as [`model::Action`]s, the
//! way stdin's commands do. Pictures come straight from the media threads
//! through [`crate::media::display`]. Built without the `window` feature,
//! [`Window::open`] says so and the peer runs headless.

pub mod model;
#[cfg(feature = "window")]
mod sdl;
#[cfg(feature = "window")]
mod text;

use crate::media::display::WakeScreen;
use model::{Action, Phase};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The window's size unless `--window-size` says otherwise.
pub const DEFAULT_WINDOW_SIZE: (u32, u32) = (640, 480);
/// The largest `--window-size` taken, per side.
pub const MAX_WINDOW_SIDE: u32 = 8192;

/// How the window is opened.
#[derive(Debug, Clone)]
pub struct WindowConfig {
    /// Its title: `peercall: NAME`.
    pub title: String,
    /// Its size in a desktop (a console's screen is always filled).
    pub size: (u32, u32),
    /// Whether it fills the screen from the start.
    pub fullscreen: bool,
}

/// What the control loop tells the window.
pub enum Update {
    /// How the registry stands, in words.
    Registry(String),
    /// The registered peers (name, address).
    Peers(Vec<(String, String)>),
    /// The call moved on.
    Phase(Phase),
    /// The microphone was muted or unmuted.
    Muted(bool),
    /// Something happened worth a line on the idle screen.
    Notice(String),
}

/// Whether this board seems to have a display for the window: a desktop
/// session (X11 or Wayland) or a DRM device for a console-only board.
/// `--video-out auto` opens the window only then, so headless boards and
/// CI stay headless.
pub fn display_available() -> bool {
    let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
    if set("DISPLAY") || set("WAYLAND_DISPLAY") {
        return true;
    }
    std::fs::read_dir("/dev/dri").is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("card"))
    })
}

/// The open window: its thread, and the way to reach it.
pub struct Window {
    updates: Option<Sender<Update>>,
    wake: WakeScreen,
    thread: Option<JoinHandle<()>>,
    /// The SDL video driver it runs on (x11, wayland, KMSDRM).
    pub driver: String,
    /// Its size when opened.
    pub size: (u32, u32),
}

impl Window {
    /// Opens the window on its own thread; `actions` gets what the user
    /// does, and `notify` wakes the control loop to read them. The error is
    /// one line for the user.
    pub fn open(
        config: WindowConfig,
        me: String,
        actions: Sender<Action>,
        notify: Arc<mio::Waker>,
    ) -> Result<Window, String> {
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("window".into())
            .spawn(move || run(config, me, rx, actions, notify, ready_tx))
            .map_err(|e| format!("no thread for the window: {e}"))?;
        match ready.recv() {
            Ok(Ok(opened)) => Ok(Window {
                updates: Some(tx),
                wake: opened.wake,
                thread: Some(thread),
                driver: opened.driver,
                size: opened.size,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err("the window thread failed".into())
            }
        }
    }

    /// Tells the window something changed.
    pub fn update(&self, u: Update) {
        if let Some(tx) = &self.updates {
            if tx.send(u).is_ok() {
                (self.wake)();
            }
        }
    }

    /// How the media threads wake the window when a picture is in.
    pub fn waker(&self) -> WakeScreen {
        Arc::clone(&self.wake)
    }
}

impl Drop for Window {
    /// Closes the window: its thread sees the updates end, and is joined.
    fn drop(&mut self) {
        self.updates = None;
        (self.wake)();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the window thread reports once the window is up.
struct Opened {
    wake: WakeScreen,
    driver: String,
    size: (u32, u32),
}

#[cfg(feature = "window")]
fn run(
    config: WindowConfig,
    me: String,
    updates: mpsc::Receiver<Update>,
    actions: Sender<Action>,
    notify: Arc<mio::Waker>,
    ready: Sender<Result<Opened, String>>,
) {
    sdl::run(config, me, updates, actions, notify, ready)
}

#[cfg(not(feature = "window"))]
fn run(
    _config: WindowConfig,
    _me: String,
    _updates: mpsc::Receiver<Update>,
    _actions: Sender<Action>,
    _notify: Arc<mio::Waker>,
    ready: Sender<Result<Opened, String>>,
) {
    let _ = ready.send(Err(
        "this peercall was built without the window (cargo feature `window`)".into(),
    ));
}
