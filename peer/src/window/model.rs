//! What the call window shows and what a key or a tap on it means, as plain
//! data: the screens (idle, calling, ringing, in a call), the geometry of
//! their pictures and buttons, and the mapping from input to the user's
//! [`Action`]. The SDL side only draws a [`Model`] and feeds it input, so
//! every rule here is tested without a display.

use crate::media::display::CallPictures;
use std::sync::Arc;
use std::time::Instant;

/// A rectangle in window pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Rect {
    /// Whether the point is inside.
    pub fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x && y >= self.y && x < self.x + self.w as i32 && y < self.y + self.h as i32
    }

    /// A `w` x `h` rectangle centred on (`cx`, `cy`).
    fn centred(cx: i32, cy: i32, w: u32, h: u32) -> Rect {
        Rect {
            x: cx - w as i32 / 2,
            y: cy - h as i32 / 2,
            w,
            h,
        }
    }
}

/// The size of the window's buttons (big enough for a finger).
pub const BUTTON_SIZE: (u32, u32) = (160, 56);
/// The small buttons over a call's picture.
pub const CALL_BUTTON_SIZE: (u32, u32) = (128, 40);
/// Height of the status bar across the top of a call.
pub const STATUS_BAR_HEIGHT: u32 = 24;
/// Gap between the corner preview and the window's edges.
pub const PREVIEW_MARGIN: u32 = 8;
/// Height of one row of the idle screen's peer list.
pub const ROW_HEIGHT: u32 = 28;
/// Where the idle screen's peer list starts.
pub const LIST_TOP: i32 = 104;
/// Peers the idle screen keeps (the registry's list is cut here).
pub const MAX_LISTED_PEERS: usize = 256;

/// The largest rectangle of the picture's aspect ratio inside `area`,
/// centred (letterbox or pillarbox bars fill the rest).
pub fn letterbox(picture: (usize, usize), area: Rect) -> Rect {
    let (pw, ph) = (picture.0.max(1) as u64, picture.1.max(1) as u64);
    let (aw, ah) = (u64::from(area.w), u64::from(area.h));
    // Fit the width unless that makes the picture too tall.
    let (w, h) = if aw * ph <= ah * pw {
        (aw, aw * ph / pw)
    } else {
        (ah * pw / ph, ah)
    };
    Rect {
        x: area.x + ((aw - w) / 2) as i32,
        y: area.y + ((ah - h) / 2) as i32,
        w: w as u32,
        h: h as u32,
    }
}

/// The corner preview of our own camera: a quarter of the window's width,
/// at the picture's aspect ratio, in the bottom-right corner.
pub fn preview_rect(window: (u32, u32), picture: (usize, usize)) -> Rect {
    let w = window.0 / 4;
    let h = (u64::from(w) * picture.1.max(1) as u64 / picture.0.max(1) as u64) as u32;
    Rect {
        x: window.0 as i32 - (w + PREVIEW_MARGIN) as i32,
        y: window.1 as i32 - (h + PREVIEW_MARGIN) as i32,
        w,
        h,
    }
}

/// A screen's button, centred at `x_share` of the width and 70% of the height.
fn button(window: (u32, u32), x_share: f64) -> Rect {
    Rect::centred(
        (f64::from(window.0) * x_share) as i32,
        (f64::from(window.1) * 0.7) as i32,
        BUTTON_SIZE.0,
        BUTTON_SIZE.1,
    )
}

/// The ringing screen's Accept button.
pub fn accept_button(window: (u32, u32)) -> Rect {
    button(window, 0.3)
}

/// The ringing screen's Reject button.
pub fn reject_button(window: (u32, u32)) -> Rect {
    button(window, 0.7)
}

/// The ringing screen's Trust button, centred below Accept and Reject; only
/// there while the caller is unverified.
pub fn trust_button(window: (u32, u32)) -> Rect {
    Rect::centred(
        (f64::from(window.0) * 0.5) as i32,
        (f64::from(window.1) * 0.86) as i32,
        BUTTON_SIZE.0,
        BUTTON_SIZE.1,
    )
}

/// The calling screen's Cancel button.
pub fn cancel_button(window: (u32, u32)) -> Rect {
    button(window, 0.5)
}

/// A call's Hang up button, bottom left over the picture.
pub fn hangup_button(window: (u32, u32)) -> Rect {
    Rect {
        x: PREVIEW_MARGIN as i32,
        y: window.1 as i32 - (CALL_BUTTON_SIZE.1 + PREVIEW_MARGIN) as i32,
        w: CALL_BUTTON_SIZE.0,
        h: CALL_BUTTON_SIZE.1,
    }
}

/// A call's Mute button, beside Hang up.
pub fn mute_button(window: (u32, u32)) -> Rect {
    let h = hangup_button(window);
    Rect {
        x: h.x + (CALL_BUTTON_SIZE.0 + PREVIEW_MARGIN) as i32,
        ..h
    }
}

/// Rows of the peer list that fit in the window.
pub fn visible_rows(window: (u32, u32)) -> usize {
    let room = window.1 as i32 - LIST_TOP - 2 * ROW_HEIGHT as i32;
    (room.max(ROW_HEIGHT as i32) / ROW_HEIGHT as i32) as usize
}

/// The first row shown, so that the selected one is visible.
pub fn first_row(selected: usize, rows: usize) -> usize {
    selected.saturating_sub(rows.saturating_sub(1))
}

/// The rectangle of the `i`th visible row of the peer list.
pub fn row_rect(window: (u32, u32), i: usize) -> Rect {
    Rect {
        x: 16,
        y: LIST_TOP + (i as u32 * ROW_HEIGHT) as i32,
        w: window.0.saturating_sub(32),
        h: ROW_HEIGHT,
    }
}

/// `text` broken at spaces into lines of at most `cols` characters (a
/// word longer than a line is cut).
pub fn wrap(text: &str, cols: usize) -> Vec<String> {
    let cols = cols.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > cols {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.extend(word.chars().take(cols));
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// What the user asked for through the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Take the incoming call.
    Accept,
    /// Refuse the incoming call.
    Reject,
    /// Add the unverified caller's key to the allow file.
    Trust,
    /// End the call, or stop calling.
    Hangup,
    /// Call this registered peer.
    Call(String),
    /// Mute or unmute the microphone.
    ToggleMute,
    /// Unregister and exit (the window was closed).
    Quit,
}

/// The keys the window reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Enter or Return.
    Enter,
    /// Escape.
    Escape,
    /// A letter, lower case.
    Letter(char),
}

/// Where the call is, as the window shows it.
#[derive(Clone, Default)]
pub enum Phase {
    /// No call: the peer list.
    #[default]
    Idle,
    /// We are calling `peer`; `ringing` once its phone rings.
    Calling {
        /// Whom.
        peer: String,
        /// Whether the other side said it is ringing.
        ringing: bool,
    },
    /// `peer` at `from` is calling us.
    Ringing {
        /// Who.
        peer: String,
        /// Their address.
        from: String,
        /// The caller's key when it is not in the allow file (an
        /// unverified caller, shown with a Trust button); `None` when it is.
        key: Option<String>,
    },
    /// In a call with `peer` since `since`.
    InCall {
        /// With whom.
        peer: String,
        /// When it was established.
        since: Instant,
        /// The call's pictures, when its media runs.
        pictures: Option<Arc<CallPictures>>,
    },
}

/// Everything the window shows.
#[derive(Clone, Default)]
pub struct Model {
    /// Our own name.
    pub me: String,
    /// How the registry stands, in words.
    pub registry: String,
    /// The registered peers (name, address), without ourselves.
    pub peers: Vec<(String, String)>,
    /// The highlighted row of the peer list.
    pub selected: usize,
    /// The call.
    pub phase: Phase,
    /// Whether the microphone is muted.
    pub muted: bool,
    /// The last thing that happened (a call ended, was missed), shown on the idle screen.
    pub notice: String,
    /// Whether the window fills the screen.
    pub fullscreen: bool,
}

impl Model {
    /// Takes a new peer list, keeping the same peer highlighted if it is still there.
    pub fn set_peers(&mut self, mut peers: Vec<(String, String)>) {
        let was = self.peers.get(self.selected).map(|p| p.0.clone());
        peers.retain(|(n, _)| *n != self.me);
        peers.truncate(MAX_LISTED_PEERS);
        self.selected = was
            .and_then(|w| peers.iter().position(|(n, _)| *n == w))
            .unwrap_or(0)
            .min(peers.len().saturating_sub(1));
        self.peers = peers;
    }

    /// What a key means on the current screen. `F` (full screen) is the
    /// window's own business and handled there.
    pub fn key(&mut self, key: Key) -> Option<Action> {
        match (&self.phase, key) {
            (Phase::Ringing { .. }, Key::Enter | Key::Letter('a')) => Some(Action::Accept),
            (Phase::Ringing { .. }, Key::Escape | Key::Letter('r')) => Some(Action::Reject),
            (Phase::Ringing { key: Some(_), .. }, Key::Letter('t')) => Some(Action::Trust),
            (Phase::Calling { .. }, Key::Escape | Key::Letter('h' | 'c')) => Some(Action::Hangup),
            (Phase::InCall { .. }, Key::Escape | Key::Letter('h')) => Some(Action::Hangup),
            (Phase::InCall { .. }, Key::Letter('m')) => Some(Action::ToggleMute),
            (Phase::Idle, Key::Up) => {
                self.selected = self.selected.saturating_sub(1);
                None
            }
            (Phase::Idle, Key::Down) => {
                if self.selected + 1 < self.peers.len() {
                    self.selected += 1;
                }
                None
            }
            (Phase::Idle, Key::Enter) => self
                .peers
                .get(self.selected)
                .map(|p| Action::Call(p.0.clone())),
            _ => None,
        }
    }

    /// What a click or tap at (`x`, `y`) means in a window of `size`.
    pub fn click(&mut self, size: (u32, u32), x: i32, y: i32) -> Option<Action> {
        match &self.phase {
            Phase::Ringing { .. } if accept_button(size).contains(x, y) => Some(Action::Accept),
            Phase::Ringing { .. } if reject_button(size).contains(x, y) => Some(Action::Reject),
            Phase::Ringing { key: Some(_), .. } if trust_button(size).contains(x, y) => {
                Some(Action::Trust)
            }
            Phase::Calling { .. } if cancel_button(size).contains(x, y) => Some(Action::Hangup),
            Phase::InCall { .. } if hangup_button(size).contains(x, y) => Some(Action::Hangup),
            Phase::InCall { .. } if mute_button(size).contains(x, y) => Some(Action::ToggleMute),
            Phase::Idle => {
                let rows = visible_rows(size);
                let first = first_row(self.selected, rows);
                let i = (0..rows).find(|&i| row_rect(size, i).contains(x, y))?;
                let peer = self.peers.get(first + i)?;
                // A tap selects; a tap on the selected peer calls it.
                if first + i == self.selected {
                    Some(Action::Call(peer.0.clone()))
                } else {
                    self.selected = first + i;
                    None
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VGA: (u32, u32) = (640, 480);

    fn ringing() -> Model {
        Model {
            phase: Phase::Ringing {
                peer: "bob".into(),
                from: "10.0.0.2".into(),
                key: None,
            },
            ..Model::default()
        }
    }

    fn in_call() -> Model {
        Model {
            phase: Phase::InCall {
                peer: "bob".into(),
                since: Instant::now(),
                pictures: None,
            },
            ..Model::default()
        }
    }

    fn idle_with(names: &[&str]) -> Model {
        let mut m = Model {
            me: "me".into(),
            ..Model::default()
        };
        m.set_peers(
            names
                .iter()
                .map(|n| (n.to_string(), "10.0.0.9:4701".to_string()))
                .collect(),
        );
        m
    }

    #[test]
    fn long_lines_wrap_at_spaces() {
        assert_eq!(
            wrap(
                "call with alice ended: the other side hung up after 9.0 s",
                38
            ),
            vec![
                "call with alice ended: the other side",
                "hung up after 9.0 s"
            ]
        );
        assert_eq!(wrap("abcdefgh", 3), vec!["abc"]);
        assert!(wrap("  ", 10).is_empty());
    }

    #[test]
    fn a_picture_keeps_its_aspect_ratio_centred_in_the_window() {
        let full = Rect {
            x: 0,
            y: 0,
            w: 1280,
            h: 720,
        };
        // 4:3 in 16:9: bars left and right.
        assert_eq!(
            letterbox((640, 480), full),
            Rect {
                x: 160,
                y: 0,
                w: 960,
                h: 720
            }
        );
        // 16:9 in 4:3: bars above and below.
        let vga = Rect {
            x: 0,
            y: 0,
            w: 640,
            h: 480,
        };
        assert_eq!(
            letterbox((1280, 720), vga),
            Rect {
                x: 0,
                y: 60,
                w: 640,
                h: 360
            }
        );
        assert_eq!(
            letterbox((0, 0), vga).w,
            480,
            "a zero size is a square, not a division by zero"
        );
    }

    #[test]
    fn the_preview_sits_in_the_bottom_right_corner_at_a_quarter_width() {
        let r = preview_rect(VGA, (640, 480));
        assert_eq!((r.w, r.h), (160, 120));
        assert_eq!((r.x + r.w as i32, r.y + r.h as i32), (632, 472));
    }

    #[test]
    fn buttons_are_where_the_window_tests_click() {
        assert_eq!(accept_button(VGA), Rect::centred(192, 336, 160, 56));
        assert_eq!(reject_button(VGA), Rect::centred(448, 336, 160, 56));
        assert_eq!(cancel_button(VGA), Rect::centred(320, 336, 160, 56));
        assert!(
            !accept_button(VGA).contains(320, 336),
            "no overlap in the middle"
        );
    }

    #[test]
    fn the_ringing_screen_answers_to_enter_a_escape_and_r() {
        for (key, action) in [
            (Key::Enter, Action::Accept),
            (Key::Letter('a'), Action::Accept),
            (Key::Escape, Action::Reject),
            (Key::Letter('r'), Action::Reject),
        ] {
            assert_eq!(ringing().key(key), Some(action), "{key:?}");
        }
        assert_eq!(ringing().key(Key::Letter('h')), None);
        assert_eq!(ringing().click(VGA, 192, 336), Some(Action::Accept));
        assert_eq!(ringing().click(VGA, 448, 336), Some(Action::Reject));
        assert_eq!(ringing().click(VGA, 320, 100), None);
    }

    #[test]
    fn a_call_hangs_up_on_h_or_escape_and_mutes_on_m() {
        assert_eq!(in_call().key(Key::Letter('h')), Some(Action::Hangup));
        assert_eq!(in_call().key(Key::Escape), Some(Action::Hangup));
        assert_eq!(in_call().key(Key::Letter('m')), Some(Action::ToggleMute));
        assert_eq!(in_call().key(Key::Enter), None, "Enter does not end a call");
        let h = hangup_button(VGA);
        assert_eq!(in_call().click(VGA, h.x + 5, h.y + 5), Some(Action::Hangup));
        let m = mute_button(VGA);
        assert_eq!(
            in_call().click(VGA, m.x + 5, m.y + 5),
            Some(Action::ToggleMute)
        );
    }

    #[test]
    fn calling_is_cancelled_by_escape_or_the_cancel_button() {
        let mut m = Model {
            phase: Phase::Calling {
                peer: "bob".into(),
                ringing: false,
            },
            ..Model::default()
        };
        assert_eq!(m.key(Key::Escape), Some(Action::Hangup));
        assert_eq!(m.click(VGA, 320, 336), Some(Action::Hangup));
    }

    #[test]
    fn the_peer_list_is_chosen_from_with_arrows_and_enter() {
        let mut m = idle_with(&["alice", "me", "bob", "carol"]);
        assert_eq!(m.peers.len(), 3, "our own name is not listed");
        assert_eq!(m.key(Key::Up), None);
        assert_eq!(m.selected, 0, "stops at the top");
        m.key(Key::Down);
        m.key(Key::Down);
        m.key(Key::Down);
        assert_eq!(m.selected, 2, "stops at the bottom");
        assert_eq!(m.key(Key::Enter), Some(Action::Call("carol".into())));
        // A refreshed list keeps carol selected where she moved.
        m.set_peers(vec![
            ("carol".into(), "x".into()),
            ("dave".into(), "y".into()),
        ]);
        assert_eq!(m.selected, 0);
        // A list without her goes back to the top; an empty one calls nobody.
        m.set_peers(vec![]);
        assert_eq!(m.key(Key::Enter), None);
    }

    #[test]
    fn a_tap_selects_a_peer_and_a_second_tap_calls_it() {
        let mut m = idle_with(&["alice", "bob"]);
        let bob = row_rect(VGA, 1);
        assert_eq!(m.click(VGA, bob.x + 4, bob.y + 4), None);
        assert_eq!(m.selected, 1);
        assert_eq!(
            m.click(VGA, bob.x + 4, bob.y + 4),
            Some(Action::Call("bob".into()))
        );
        assert_eq!(m.click(VGA, 4, 4), None, "outside the list");
    }

    #[test]
    fn a_long_list_scrolls_to_keep_the_selection_visible() {
        let names: Vec<String> = (0..40).map(|i| format!("p{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut m = idle_with(&refs);
        let rows = visible_rows(VGA);
        assert!((5..40).contains(&rows), "{rows}");
        for _ in 0..30 {
            m.key(Key::Down);
        }
        let first = first_row(m.selected, rows);
        assert!(first <= m.selected && m.selected < first + rows);
        let r = row_rect(VGA, m.selected - first);
        assert_eq!(
            m.click(VGA, r.x + 1, r.y + 1),
            Some(Action::Call("p30".into()))
        );
    }

    #[test]
    fn an_unverified_caller_has_a_trust_button_and_t_and_a_verified_one_has_neither() {
        let mut m = ringing();
        let t = trust_button(VGA);
        let (tx, ty) = (t.x + t.w as i32 / 2, t.y + t.h as i32 / 2);
        assert_eq!(m.key(Key::Letter('t')), None);
        assert_eq!(m.click(VGA, tx, ty), None);
        m.phase = Phase::Ringing {
            peer: "bob".into(),
            from: "10.0.0.2".into(),
            key: Some("O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=".into()),
        };
        assert_eq!(m.key(Key::Letter('t')), Some(Action::Trust));
        assert_eq!(m.click(VGA, tx, ty), Some(Action::Trust));
        // It overlaps neither Accept nor Reject.
        for other in [accept_button(VGA), reject_button(VGA)] {
            assert!(t.y >= other.y + other.h as i32 || t.y + (t.h as i32) <= other.y);
        }
        assert!(t.y + t.h as i32 <= VGA.1 as i32);
    }
}
