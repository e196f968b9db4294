//! The hand-over between a call's media threads and a screen. The video-out
//! thread decodes the newest received frame (and, now and then, the local
//! camera's) into a [`PictureSlot`]; the screen's own thread takes the
//! picture when it draws, presents it, and records what it presented in
//! [`CallPictures::stats`]. A slot holds one picture: a screen that falls
//! behind skips to the newest, as a display should, and nothing queues up.
//! Nothing here knows about SDL, so the media runtime is the same with or
//! without the window built in.

use peercall::media::session::{DisplayStats, Live};
use peercall_codecs::jpeg::YuvView;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How often the local camera's picture is decoded for the corner preview:
/// 10 a second looks live and costs a third of decoding every frame.
pub const PREVIEW_INTERVAL: Duration = Duration::from_millis(100);

/// Locks a mutex whose holder may have panicked: a picture or a counter
/// stays meaningful, and the panic is reported on its own.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A decoded picture: planar YUV 4:2:0, rows unpadded.
#[derive(Debug, Clone, Default)]
pub struct Picture {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Luma, `width` x `height`.
    pub y: Vec<u8>,
    /// Cb, half width and half height (rounded up).
    pub u: Vec<u8>,
    /// Cr, like `u`.
    pub v: Vec<u8>,
    /// When it was captured, on our clock, if known.
    pub captured: Option<Instant>,
    /// How long decoding it took.
    pub decode: Duration,
}

impl Picture {
    /// Copies `view` in, reusing the buffers when the size is the same.
    fn fill(&mut self, view: &YuvView<'_>) {
        self.width = view.width;
        self.height = view.height;
        for (dst, src) in [
            (&mut self.y, view.y),
            (&mut self.u, view.u),
            (&mut self.v, view.v),
        ] {
            dst.clear();
            dst.extend_from_slice(src);
        }
    }
}

#[derive(Default)]
struct Slot {
    picture: Picture,
    fresh: bool,
}

/// The newest picture of one stream, between its decoder and the screen.
#[derive(Default)]
pub struct PictureSlot {
    slot: Mutex<Slot>,
}

impl PictureSlot {
    /// Puts a decoded picture in, replacing one the screen has not taken.
    pub fn put(&self, view: &YuvView<'_>, captured: Option<Instant>, decode: Duration) {
        let mut s = lock(&self.slot);
        s.picture.fill(view);
        s.picture.captured = captured;
        s.picture.decode = decode;
        s.fresh = true;
    }

    /// Hands the picture to `use_it` if it is new since the last take.
    pub fn take<R>(&self, use_it: impl FnOnce(&Picture) -> R) -> Option<R> {
        let mut s = lock(&self.slot);
        if !s.fresh {
            return None;
        }
        s.fresh = false;
        Some(use_it(&s.picture))
    }
}

/// What a screen wakes with: a closure, so this module needs no SDL.
pub type WakeScreen = Arc<dyn Fn() + Send + Sync>;

/// One call's pictures and figures as a screen shows them.
pub struct CallPictures {
    /// The other side's picture.
    pub remote: PictureSlot,
    /// Our own camera's, for the corner.
    pub preview: PictureSlot,
    /// The running figures for the status line.
    live: Mutex<Option<Live>>,
    /// What the screen presented.
    stats: Mutex<DisplayStats>,
    wake: WakeScreen,
}

impl CallPictures {
    /// Pictures for a screen woken by `wake` when something new is in.
    pub fn new(wake: WakeScreen) -> Arc<CallPictures> {
        Arc::new(CallPictures {
            remote: PictureSlot::default(),
            preview: PictureSlot::default(),
            live: Mutex::new(None),
            stats: Mutex::new(DisplayStats::default()),
            wake,
        })
    }

    /// Tells the screen something new is in.
    pub fn wake(&self) {
        (self.wake)();
    }

    /// The media's running figures, from its loop.
    pub fn set_live(&self, live: Live) {
        *lock(&self.live) = Some(live);
    }

    /// The latest running figures.
    pub fn live(&self) -> Option<Live> {
        *lock(&self.live)
    }

    /// The screen presented a received frame: captured at `captured`,
    /// decoded in `decode`, the present call returned at `presented`.
    pub fn presented(&self, captured: Option<Instant>, decode: Duration, presented: Instant) {
        let latency = captured.map(|c| presented.saturating_duration_since(c));
        lock(&self.stats).record(latency, decode);
    }

    /// What the screen presented so far.
    pub fn stats(&self) -> DisplayStats {
        lock(&self.stats).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn view<'a>(y: &'a [u8], c: &'a [u8]) -> YuvView<'a> {
        YuvView {
            width: 4,
            height: 2,
            y,
            u: c,
            v: c,
        }
    }

    #[test]
    fn a_slot_hands_out_each_picture_once_and_keeps_only_the_newest() {
        let slot = PictureSlot::default();
        assert_eq!(slot.take(|p| p.width), None, "nothing yet");
        slot.put(&view(&[1; 8], &[2; 2]), None, Duration::from_millis(3));
        slot.put(&view(&[9; 8], &[8; 2]), None, Duration::from_millis(4));
        let got = slot.take(|p| (p.y.clone(), p.u.clone(), p.decode));
        assert_eq!(
            got,
            Some((vec![9; 8], vec![8; 2], Duration::from_millis(4))),
            "the newest replaced the one not taken"
        );
        assert_eq!(slot.take(|p| p.width), None, "taken once");
    }

    #[test]
    fn presented_frames_are_counted_with_their_latency() {
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        let pics = CallPictures::new(Arc::new(move || {
            w.fetch_add(1, Ordering::Relaxed);
        }));
        pics.wake();
        assert_eq!(woken.load(Ordering::Relaxed), 1);
        let t0 = Instant::now();
        pics.presented(
            Some(t0),
            Duration::from_millis(2),
            t0 + Duration::from_millis(40),
        );
        pics.presented(None, Duration::from_millis(3), t0);
        let s = pics.stats();
        assert_eq!(s.displayed, 2);
        assert_eq!(
            s.latency_us,
            vec![40_000],
            "only a known capture time counts"
        );
        assert_eq!(s.decode_us, vec![2_000, 3_000]);
    }
}
