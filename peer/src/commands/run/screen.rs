//! The control loop's side of the call window: it opens the window when
//! `--video-out` asks for one (or a display is there, with `auto`), tells
//! it how the registry and the call stand, refreshes its peer list now and
//! then without printing it, and carries out what the user does in it
//! exactly as the same stdin command would, so both show the same state.

use super::Peer;
use crate::media::display::CallPictures;
use crate::media::{MediaOptions, VideoSink};
use crate::window::model::{Action, Phase};
use crate::window::{self, Update, Window, WindowConfig};
use mio::Waker;
use peercall::wire::Name;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the idle screen's peer list is asked of the registry.
pub const PEER_LIST_REFRESH: Duration = Duration::from_secs(5);
/// List requests remembered as the window's or the user's; past it, the
/// window stops asking until answers come.
const MAX_PENDING_LISTS: usize = 8;

/// The window, if any, and what goes with it.
pub(super) struct Screen {
    window: Option<Window>,
    actions: Receiver<Action>,
    /// Unanswered list requests in order: true for the window's (answered
    /// quietly), false for the user's (printed).
    lists: VecDeque<bool>,
    next_refresh: Option<Instant>,
    /// The microphone's mute switch, shared with each call's media.
    pub(super) muted: Arc<AtomicBool>,
}

impl Screen {
    /// Opens the window `media.video_out` asks for, and says what happened;
    /// afterwards `video_out` says where video really goes.
    pub(super) fn open(name: &Name, media: &mut MediaOptions, notify: Arc<Waker>) -> Screen {
        let (tx, actions) = mpsc::channel();
        let wanted = match media.video_out {
            VideoSink::Window => true,
            VideoSink::Auto => window::display_available(),
            _ => false,
        };
        let window = if wanted {
            let config = WindowConfig {
                title: format!("peercall: {name}"),
                size: media.window_size,
                fullscreen: media.fullscreen,
            };
            match Window::open(config, name.to_string(), tx, notify) {
                Ok(w) => {
                    println!("window: {}x{} on {}", w.size.0, w.size.1, w.driver);
                    Some(w)
                }
                Err(e) => {
                    println!("window not shown ({e}); received video is not displayed");
                    None
                }
            }
        } else {
            None
        };
        if matches!(media.video_out, VideoSink::Window | VideoSink::Auto) {
            media.video_out = if window.is_some() {
                VideoSink::Window
            } else {
                VideoSink::Null
            };
        }
        Screen {
            next_refresh: window.as_ref().map(|_| Instant::now()),
            window,
            actions,
            lists: VecDeque::new(),
            muted: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Tells the window, if there is one.
    pub(super) fn update(&self, u: Update) {
        if let Some(w) = &self.window {
            w.update(u);
        }
    }

    /// Pictures for a new call's media to show in the window.
    pub(super) fn pictures(&self) -> Option<Arc<CallPictures>> {
        self.window.as_ref().map(|w| CallPictures::new(w.waker()))
    }

    /// When the peer list is next due for a refresh.
    pub(super) fn next_timeout(&self) -> Option<Instant> {
        self.next_refresh
    }

    /// A list request is going out; `quiet` when the window asked.
    pub(super) fn list_requested(&mut self, quiet: bool) {
        self.lists.push_back(quiet);
    }

    /// A list answer (or failure) came: whether the window had asked.
    pub(super) fn list_answered(&mut self) -> bool {
        self.lists.pop_front().unwrap_or(false)
    }

    /// Whether the window's list is due (and if so, schedules the next).
    fn refresh_due(&mut self, now: Instant) -> bool {
        match self.next_refresh {
            Some(t) if t <= now => {
                self.next_refresh = Some(now + PEER_LIST_REFRESH);
                self.lists.len() < MAX_PENDING_LISTS
            }
            _ => false,
        }
    }
}

impl Peer {
    /// Carries out what the user did in the window.
    pub(super) fn window_actions(&mut self) {
        loop {
            let action = match self.screen.actions.try_recv() {
                Ok(a) => a,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return,
            };
            let now = Instant::now();
            match action {
                Action::Accept => self.accept(now),
                Action::Reject => {
                    if let Err(e) = self.phone.reject(now) {
                        println!("cannot reject: no incoming call ({e})");
                    }
                }
                Action::Trust => self.trust_caller(now),
                Action::Hangup => {
                    if let Err(e) = self.phone.hangup(now) {
                        println!("cannot hang up: {e}");
                    }
                }
                Action::Call(n) => match Name::new(&n) {
                    Ok(name) => self.start_call(name),
                    Err(e) => println!("'{n}' is not a valid name: {e}"),
                },
                Action::ToggleMute => self.toggle_mute(),
                Action::Quit => {
                    println!("window closed: quitting");
                    self.quit(now);
                }
            }
        }
    }

    /// `mute`, M or the Mute button: the microphone sends silence, or sound again.
    pub(super) fn toggle_mute(&mut self) {
        let muted = !self.screen.muted.fetch_xor(true, Ordering::Relaxed);
        println!(
            "{}",
            if muted {
                "microphone muted"
            } else {
                "microphone on"
            }
        );
        self.screen.update(Update::Muted(muted));
    }

    /// Asks the registry for the window's peer list when it is due, while
    /// registered and not in a call.
    pub(super) fn refresh_peers(&mut self, now: Instant) {
        let idle = !self.phone.is_busy();
        if self.screen.refresh_due(now) && idle && self.registered {
            self.screen.list_requested(true);
            self.membership.list();
        }
    }

    /// The window's screen for the call, as the phone now stands.
    pub(super) fn show_phase(&self, phase: Phase) {
        self.screen.update(Update::Phase(phase));
    }
}
