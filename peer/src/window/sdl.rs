//! The window's thread: SDL's window, renderer and event queue, which must
//! all stay on the thread that opened them. It sleeps in SDL's event wait;
//! the control loop's updates and the media's pictures wake it with an SDL
//! user event. Received pictures go to a YUV texture as the decoder left
//! them, so colour conversion and scaling are the renderer's (the GPU's on
//! a board that has one); a frame is counted as displayed once the present
//! call returns.

use super::model::{
    accept_button, cancel_button, first_row, hangup_button, letterbox, mute_button, preview_rect,
    reject_button, row_rect, trust_button, visible_rows, wrap, Action, Key, Model, Phase, Rect,
    STATUS_BAR_HEIGHT,
};
use super::text::{Font, CHAR_W};
use super::{Opened, Update, WindowConfig};
use crate::media::display::{Picture, WakeScreen};
use sdl2::event::{Event, WindowEvent};
use sdl2::keyboard::Keycode;
use sdl2::mouse::MouseButton;
use sdl2::pixels::{Color, PixelFormatEnum};
use sdl2::render::{BlendMode, Canvas, Texture, TextureCreator};
use sdl2::video::{FullscreenType, Window, WindowContext};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The longest the thread sleeps without an event: the status line's clock
/// and figures move once a second.
const TICK: Duration = Duration::from_millis(250);

const BACKGROUND: Color = Color::RGB(24, 28, 36);
const WHITE: Color = Color::RGB(255, 255, 255);
const GREY: Color = Color::RGB(170, 176, 186);
const NOTICE: Color = Color::RGB(240, 200, 90);
const SELECTED: Color = Color::RGB(60, 90, 140);
const GREEN: Color = Color::RGB(46, 160, 67);
const RED: Color = Color::RGB(208, 48, 48);
const MUTE_OFF: Color = Color::RGB(80, 86, 96);
const MUTE_ON: Color = Color::RGB(220, 140, 30);
const TRUST: Color = Color::RGB(40, 110, 190);

fn rect(r: Rect) -> sdl2::rect::Rect {
    sdl2::rect::Rect::new(r.x, r.y, r.w.max(1), r.h.max(1))
}

/// Whether the machine has a GPU render node, i.e. OpenGL that is not
/// Mesa drawing on the CPU.
fn gpu_render_node() -> bool {
    std::fs::read_dir("/dev/dri").is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

/// Opens SDL's window; the error is one line for the user.
fn open(
    config: &WindowConfig,
) -> Result<(sdl2::Sdl, sdl2::EventSubsystem, Canvas<Window>, String), String> {
    let sdl = sdl2::init()?;
    let video = sdl.video()?;
    let driver = video.current_video_driver().to_string();
    if driver == "x11" && !gpu_render_node() {
        // Without a GPU, SDL's default on X11 is OpenGL on Mesa's llvmpipe,
        // and even its software renderer is presented through a GL texture:
        // two CPU rasterizer threads at a 640x480 call cost three times the
        // software renderer into a shared-memory X image. (Hints yield to
        // SDL_RENDER_DRIVER and SDL_FRAMEBUFFER_ACCELERATION set by the user.)
        sdl2::hint::set("SDL_RENDER_DRIVER", "software");
        sdl2::hint::set("SDL_FRAMEBUFFER_ACCELERATION", "0");
    }
    let mut builder = video.window(&config.title, config.size.0, config.size.1);
    builder.position_centered().resizable();
    if config.fullscreen {
        builder.fullscreen_desktop();
    }
    let window = builder.build().map_err(|e| e.to_string())?;
    let canvas = window
        .into_canvas()
        .present_vsync()
        .build()
        .map_err(|e| e.to_string())?;
    let events = sdl.event()?;
    log::info!("window renderer: {}", canvas.info().name);
    Ok((sdl, events, canvas, driver))
}

/// The window's wake-up: the closure for other threads, the flag the
/// window clears when it goes (no event is pushed after), and the flag
/// saying a wake is pending (the window clears it when it sees the event).
struct Wake {
    wake: WakeScreen,
    alive: Arc<Mutex<bool>>,
    pending: Arc<AtomicBool>,
}

/// Wakes the window from another thread with an SDL user event. One wake
/// is pending at most, so a window that is behind does not fill SDL's
/// queue; after the window is gone, nothing is pushed.
fn waker(events: &sdl2::EventSubsystem) -> Result<Wake, String> {
    // SAFETY: registers a user event type number; no memory is involved.
    let wake_type = unsafe { events.register_event()? };
    let sender = events.event_sender();
    let alive = Arc::new(Mutex::new(true));
    let pending = Arc::new(AtomicBool::new(false));
    let (a, p) = (Arc::clone(&alive), Arc::clone(&pending));
    let wake: WakeScreen = Arc::new(move || {
        let alive = a.lock().unwrap_or_else(PoisonError::into_inner);
        if *alive && !p.swap(true, Ordering::AcqRel) {
            let _ = sender.push_event(Event::User {
                timestamp: 0,
                window_id: 0,
                type_: wake_type,
                code: 0,
                data1: std::ptr::null_mut(),
                data2: std::ptr::null_mut(),
            });
        }
    });
    Ok(Wake {
        wake,
        alive,
        pending,
    })
}

/// A texture holding the newest picture of one stream.
struct Shown<'a> {
    texture: Option<Texture<'a>>,
    size: (usize, usize),
}

impl<'a> Shown<'a> {
    fn none() -> Shown<'a> {
        Shown {
            texture: None,
            size: (0, 0),
        }
    }

    /// Uploads `pic`, making a texture of its size when it changed.
    fn upload(&mut self, creator: &'a TextureCreator<WindowContext>, pic: &Picture) {
        let size = (pic.width, pic.height);
        if self.texture.is_none() || self.size != size {
            self.texture = creator
                .create_texture_streaming(PixelFormatEnum::IYUV, size.0 as u32, size.1 as u32)
                .map_err(|e| log::warn!("no texture for a {}x{} picture: {e}", size.0, size.1))
                .ok();
            self.size = size;
        }
        if let Some(t) = self.texture.as_mut() {
            let cw = pic.width.div_ceil(2);
            if let Err(e) = t.update_yuv(None, &pic.y, pic.width, &pic.u, cw, &pic.v, cw) {
                log::debug!("picture not uploaded: {e}");
            }
        }
    }
}

/// The received-frames rate for the status line, from the media's counter.
#[derive(Default)]
struct FrameRate {
    last: Option<(Instant, u64)>,
    fps: Option<f64>,
}

impl FrameRate {
    fn sample(&mut self, now: Instant, shown: u64) {
        match self.last {
            Some((t, n)) if now.duration_since(t) >= Duration::from_secs(1) => {
                let secs = now.duration_since(t).as_secs_f64();
                self.fps = Some(shown.saturating_sub(n) as f64 / secs);
                self.last = Some((now, shown));
            }
            Some(_) => {}
            None => self.last = Some((now, shown)),
        }
    }
}

/// The status line of a call.
fn status_line(model: &Model, now: Instant, rate: &mut FrameRate) -> String {
    let Phase::InCall {
        peer,
        since,
        pictures,
    } = &model.phase
    else {
        return String::new();
    };
    let secs = now.saturating_duration_since(*since).as_secs();
    // Short enough for 640 pixels of 16-pixel characters.
    let mut s = format!("{peer} {}:{:02}", secs / 60, secs % 60);
    if let Some(live) = pictures.as_ref().and_then(|p| p.live()) {
        rate.sample(now, live.video_frames_shown);
        if let Some(fps) = rate.fps {
            s += &format!("  {fps:.0} fps");
        }
        if live.packets_expected > 0 {
            let pct = live.packets_lost.max(0) as f64 * 100.0 / live.packets_expected as f64;
            s += &format!("  {pct:.1}% loss");
        }
        if let Some(rtt) = live.rtt {
            s += &format!("  {} ms RTT", rtt.as_millis());
        }
    }
    if model.muted {
        s += "  MUTED";
    }
    s
}

fn key(code: Keycode) -> Option<Key> {
    Some(match code {
        Keycode::Up => Key::Up,
        Keycode::Down => Key::Down,
        Keycode::Return | Keycode::KpEnter => Key::Enter,
        Keycode::Escape => Key::Escape,
        c => {
            let name = c.name();
            let mut chars = name.chars();
            match (chars.next(), chars.next()) {
                (Some(ch), None) if ch.is_ascii_alphabetic() => {
                    Key::Letter(ch.to_ascii_lowercase())
                }
                _ => return None,
            }
        }
    })
}

/// The window thread's body.
pub(super) fn run(
    config: WindowConfig,
    me: String,
    updates: Receiver<Update>,
    actions: Sender<Action>,
    notify: Arc<mio::Waker>,
    ready: Sender<Result<Opened, String>>,
) {
    let (sdl, events, mut canvas, driver) = match open(&config) {
        Ok(o) => o,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let Wake {
        wake,
        alive,
        pending,
    } = match waker(&events) {
        Ok(w) => w,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let mut pump = match sdl.event_pump() {
        Ok(p) => p,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let creator = canvas.texture_creator();
    let mut font = match Font::new(&creator) {
        Ok(f) => f,
        Err(e) => {
            let _ = ready.send(Err(format!("no texture for the text: {e}")));
            return;
        }
    };
    canvas.set_blend_mode(BlendMode::Blend);
    let size = canvas.output_size().unwrap_or(config.size);
    let opened = Opened {
        wake: Arc::clone(&wake),
        driver,
        size,
    };
    if ready.send(Ok(opened)).is_err() {
        return;
    }
    let act = |a: Action| {
        if actions.send(a).is_ok() {
            let _ = notify.wake();
        }
    };
    let mut model = Model {
        me,
        fullscreen: config.fullscreen,
        ..Model::default()
    };
    let mut remote = Shown::none();
    let mut preview = Shown::none();
    let mut rate = FrameRate::default();
    let mut last_status = String::new();
    let mut dirty = true;
    'run: loop {
        let first = if dirty {
            pump.poll_event()
        } else {
            pump.wait_event_timeout(TICK.as_millis() as u32)
        };
        let mut next = first;
        while let Some(ev) = next {
            match ev {
                Event::Quit { .. } => act(Action::Quit),
                Event::KeyDown {
                    keycode: Some(Keycode::F),
                    repeat: false,
                    ..
                } => {
                    model.fullscreen = !model.fullscreen;
                    let how = if model.fullscreen {
                        FullscreenType::Desktop
                    } else {
                        FullscreenType::Off
                    };
                    if let Err(e) = canvas.window_mut().set_fullscreen(how) {
                        log::warn!("full screen not toggled: {e}");
                    }
                    dirty = true;
                }
                Event::KeyDown {
                    keycode: Some(code),
                    repeat: false,
                    ..
                } => {
                    if let Some(a) = key(code).and_then(|k| model.key(k)) {
                        act(a);
                    }
                    dirty = true;
                }
                Event::MouseButtonDown {
                    mouse_btn: MouseButton::Left,
                    x,
                    y,
                    ..
                } => {
                    let size = canvas.window().size();
                    if let Some(a) = model.click(size, x, y) {
                        act(a);
                    }
                    dirty = true;
                }
                Event::FingerDown { x, y, .. } => {
                    let size = canvas.window().size();
                    let (px, py) = ((x * size.0 as f32) as i32, (y * size.1 as f32) as i32);
                    if let Some(a) = model.click(size, px, py) {
                        act(a);
                    }
                    dirty = true;
                }
                Event::Window {
                    win_event: WindowEvent::Exposed | WindowEvent::SizeChanged(..),
                    ..
                } => dirty = true,
                Event::User { .. } => pending.store(false, Ordering::Release),
                _ => {}
            }
            next = pump.poll_event();
        }
        loop {
            match updates.try_recv() {
                Ok(u) => {
                    apply(&mut model, u);
                    dirty = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => break 'run,
            }
        }
        let pictures = match &model.phase {
            Phase::InCall { pictures, .. } => pictures.clone(),
            _ => {
                remote = Shown::none();
                preview = Shown::none();
                rate = FrameRate::default();
                None
            }
        };
        let mut new_remote = None;
        if let Some(p) = &pictures {
            if let Some(meta) = p.remote.take(|pic| {
                remote.upload(&creator, pic);
                (pic.captured, pic.decode)
            }) {
                new_remote = Some(meta);
                dirty = true;
            }
            if p.preview
                .take(|pic| preview.upload(&creator, pic))
                .is_some()
            {
                dirty = true;
            }
        }
        let status = status_line(&model, Instant::now(), &mut rate);
        if status != last_status {
            last_status = status;
            dirty = true;
        }
        if dirty {
            draw(
                &mut canvas,
                &mut font,
                &model,
                &remote,
                &preview,
                &last_status,
            );
            canvas.present();
            if let (Some(p), Some((captured, decode))) = (&pictures, new_remote) {
                p.presented(captured, decode, Instant::now());
            }
            dirty = false;
        }
    }
    *alive.lock().unwrap_or_else(PoisonError::into_inner) = false;
}

fn apply(model: &mut Model, u: Update) {
    match u {
        Update::Registry(s) => model.registry = s,
        Update::Peers(p) => model.set_peers(p),
        Update::Phase(p) => model.phase = p,
        Update::Muted(m) => model.muted = m,
        Update::Notice(n) => model.notice = n,
    }
}

fn fill(canvas: &mut Canvas<Window>, r: Rect, color: Color) {
    canvas.set_draw_color(color);
    let _ = canvas.fill_rect(rect(r));
}

fn labelled(canvas: &mut Canvas<Window>, font: &mut Font, r: Rect, color: Color, label: &str) {
    fill(canvas, r, color);
    let y = r.y + (r.h as i32 - CHAR_W as i32) / 2;
    font.draw_centred(canvas, label, r.x + r.w as i32 / 2, y, WHITE, r.w);
}

/// Draws the whole screen for `model`.
fn draw(
    canvas: &mut Canvas<Window>,
    font: &mut Font,
    model: &Model,
    remote: &Shown,
    preview: &Shown,
    status: &str,
) {
    let size = canvas.output_size().unwrap_or((640, 480));
    let (w, h) = size;
    let full = Rect { x: 0, y: 0, w, h };
    let text_w = w.saturating_sub(32);
    let line = |i: f64| (f64::from(h) * i) as i32;
    match &model.phase {
        Phase::InCall { peer, .. } => {
            canvas.set_draw_color(Color::RGB(0, 0, 0));
            canvas.clear();
            match &remote.texture {
                Some(t) => {
                    let _ = canvas.copy(t, None, rect(letterbox(remote.size, full)));
                }
                None => font.draw_centred(
                    canvas,
                    &format!("waiting for {peer}'s picture"),
                    w as i32 / 2,
                    line(0.45),
                    GREY,
                    text_w,
                ),
            }
            if let Some(t) = &preview.texture {
                let r = preview_rect(size, preview.size);
                fill(
                    canvas,
                    Rect {
                        x: r.x - 1,
                        y: r.y - 1,
                        w: r.w + 2,
                        h: r.h + 2,
                    },
                    WHITE,
                );
                let _ = canvas.copy(t, None, rect(r));
            }
            fill(
                canvas,
                Rect {
                    x: 0,
                    y: 0,
                    w,
                    h: STATUS_BAR_HEIGHT,
                },
                Color::RGBA(0, 0, 0, 160),
            );
            font.draw(canvas, status, 8, 4, WHITE, w.saturating_sub(16));
            labelled(canvas, font, hangup_button(size), RED, "Hang up");
            let (c, label) = if model.muted {
                (MUTE_ON, "Unmute")
            } else {
                (MUTE_OFF, "Mute")
            };
            labelled(canvas, font, mute_button(size), c, label);
        }
        Phase::Ringing { peer, from, key } => {
            canvas.set_draw_color(BACKGROUND);
            canvas.clear();
            font.draw_centred(
                canvas,
                "Incoming call",
                w as i32 / 2,
                line(0.2),
                GREY,
                text_w,
            );
            font.draw_centred(canvas, peer, w as i32 / 2, line(0.32), WHITE, text_w);
            font.draw_centred(
                canvas,
                &format!("from {from}"),
                w as i32 / 2,
                line(0.42),
                GREY,
                text_w,
            );
            if let Some(key) = key {
                // Only the key is proved: the name is whatever the caller said.
                let (head, tail) = key.split_at(key.len().min(22));
                for (text, at) in [
                    ("unverified caller, key:", 0.48),
                    (head, 0.53),
                    (tail, 0.58),
                ] {
                    font.draw_centred(canvas, text, w as i32 / 2, line(at), NOTICE, text_w);
                }
                labelled(canvas, font, trust_button(size), TRUST, "Trust");
            }
            labelled(canvas, font, accept_button(size), GREEN, "Accept");
            labelled(canvas, font, reject_button(size), RED, "Reject");
        }
        Phase::Calling { peer, ringing } => {
            canvas.set_draw_color(BACKGROUND);
            canvas.clear();
            let what = if *ringing {
                format!("{peer} is ringing")
            } else {
                format!("Calling {peer}")
            };
            font.draw_centred(canvas, &what, w as i32 / 2, line(0.32), WHITE, text_w);
            labelled(canvas, font, cancel_button(size), RED, "Cancel");
        }
        Phase::Idle => {
            canvas.set_draw_color(BACKGROUND);
            canvas.clear();
            font.draw(
                canvas,
                &format!("peercall: {}", model.me),
                16,
                16,
                WHITE,
                text_w,
            );
            font.draw(canvas, &model.registry, 16, 44, GREY, text_w);
            let hint = if model.peers.is_empty() {
                "No other peers registered"
            } else {
                "Enter or tap twice to call:"
            };
            font.draw(canvas, hint, 16, 76, GREY, text_w);
            let rows = visible_rows(size);
            let first = first_row(model.selected, rows);
            for (i, (name, addr)) in model.peers.iter().skip(first).take(rows).enumerate() {
                let r = row_rect(size, i);
                if first + i == model.selected {
                    fill(canvas, r, SELECTED);
                }
                let y = r.y + (r.h as i32 - CHAR_W as i32) / 2;
                font.draw(
                    canvas,
                    &format!("{name}  {addr}"),
                    r.x + 8,
                    y,
                    WHITE,
                    r.w.saturating_sub(16),
                );
            }
            let notice = wrap(&model.notice, (text_w / CHAR_W) as usize);
            let top = h as i32 - 12 - (notice.len() as i32 * (CHAR_W as i32 + 6));
            for (i, l) in notice.iter().enumerate() {
                let y = top + i as i32 * (CHAR_W as i32 + 6);
                font.draw(canvas, l, 16, y, NOTICE, text_w);
            }
        }
    }
}
