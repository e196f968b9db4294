//! The registry's stdout, written by a thread of its own so that the event
//! loop never waits on it. Whoever reads stdout (a terminal, journald, a
//! pipe) may be slow or may stop reading altogether; a full pipe would then
//! block a `write` in the loop, and the registry would answer nobody until
//! the pipe was drained. Instead the loop hands whole lines to a queue
//! bounded at [`MAX_QUEUED_BYTES`] and never waits: lines that do not fit
//! are dropped and counted, and when output flows again the writer thread
//! prints how many were lost ("N log lines dropped ...") where they would
//! have been.
//!
//! ```text
//!  event loop ── Printer ── StdoutQueue::write/flush ──► queue (≤ MAX_QUEUED_BYTES)
//!                                   │ no room: count the lines, drop them
//!  writer thread ◄── batches ───────┘ ──► stdout (may block; only this thread waits)
//! ```

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes of output waiting for stdout (queued or being written) beyond which
/// new lines are dropped rather than queued: a few thousand event lines, so a
/// reader that merely lags loses nothing, while one that stopped reading
/// costs the registry this much memory at most.
pub const MAX_QUEUED_BYTES: usize = 256 * 1024;

#[derive(Default)]
struct State {
    /// Batches of whole lines, oldest first.
    queue: VecDeque<Vec<u8>>,
    /// Bytes in `queue` plus the batch being written.
    queued_bytes: usize,
    /// Lines dropped since the last count was printed.
    dropped: u64,
    /// No more lines will come: the writer exits once the queue is empty.
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when there is something to write, when the queue empties and
    /// when the writer exits.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A [`Write`] for the event loop: `write` collects text, `flush` queues the
/// whole lines collected so far for the writer thread, or drops them when the
/// queue is full. Neither ever blocks on stdout.
pub struct StdoutQueue {
    shared: Arc<Shared>,
    /// Bytes written since the last flush (kept as bytes: a character may
    /// come in two writes).
    pending: Vec<u8>,
    writer: Option<JoinHandle<()>>,
}

/// Where the last whole line in `bytes` ends (after its newline).
fn last_line_end(bytes: &[u8]) -> Option<usize> {
    bytes.iter().rposition(|&b| b == b'\n').map(|i| i + 1)
}

/// The line printed in place of `n` lines that found the queue full.
fn dropped_line(n: u64) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{n} log line{s} dropped: stdout was not being read\n")
}

impl StdoutQueue {
    /// Starts the writer thread on the process's stdout.
    pub fn stdout() -> io::Result<StdoutQueue> {
        Self::new(io::stdout())
    }

    /// Starts the writer thread on `out`.
    pub fn new(out: impl Write + Send + 'static) -> io::Result<StdoutQueue> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let s = shared.clone();
        let writer = std::thread::Builder::new()
            .name("stdout".into())
            .spawn(move || write_loop(&s, out))?;
        Ok(StdoutQueue {
            shared,
            pending: Vec::new(),
            writer: Some(writer),
        })
    }

    /// Waits up to `within` for everything queued to be written: for the
    /// first line, which whoever started the registry waits for, and at exit.
    /// Returns whether it was.
    pub fn wait_written(&mut self, within: Duration) -> bool {
        let _ = self.flush();
        let deadline = Instant::now() + within;
        let mut state = self.shared.lock();
        loop {
            if state.queued_bytes == 0 && state.dropped == 0 {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Write for StdoutQueue {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    /// Queues the whole lines written so far, as many as fit; counts the rest
    /// as dropped. A partial last line waits for its end.
    fn flush(&mut self) -> io::Result<()> {
        let Some(end) = last_line_end(&self.pending) else {
            return Ok(());
        };
        let mut state = self.shared.lock();
        let room = MAX_QUEUED_BYTES.saturating_sub(state.queued_bytes);
        // Whole lines only: cut after the last newline that fits.
        let fit = if end <= room {
            end
        } else {
            last_line_end(&self.pending[..room]).unwrap_or(0)
        };
        let lost = self.pending[fit..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        if fit > 0 {
            let mut batch = Vec::with_capacity(fit + 64);
            if state.dropped > 0 {
                // Where the lost lines would have been.
                batch
                    .extend_from_slice(dropped_line(std::mem::take(&mut state.dropped)).as_bytes());
            }
            batch.extend_from_slice(&self.pending[..fit]);
            state.queued_bytes += batch.len();
            state.queue.push_back(batch);
        }
        state.dropped += lost;
        drop(state);
        self.shared.changed.notify_all();
        self.pending.drain(..end);
        Ok(())
    }
}

impl Drop for StdoutQueue {
    /// Lets the writer finish what is queued; does not wait for it (a reader
    /// that stopped reading must not keep the registry from exiting; see
    /// [`StdoutQueue::wait_written`]).
    fn drop(&mut self) {
        let _ = self.flush();
        self.shared.lock().closed = true;
        self.shared.changed.notify_all();
        self.writer.take();
    }
}

/// The writer thread: writes batches in order; once the queue is empty, a
/// count of dropped lines not yet reported.
fn write_loop(shared: &Shared, mut out: impl Write) {
    let mut state = shared.lock();
    loop {
        let text = if let Some(batch) = state.queue.pop_front() {
            batch
        } else if state.dropped > 0 {
            // Output flows again and no later line carried the count: say it now.
            let line = dropped_line(std::mem::take(&mut state.dropped)).into_bytes();
            state.queued_bytes += line.len();
            line
        } else if state.closed {
            break;
        } else {
            state = shared
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        drop(state);
        // A closed stdout (EPIPE) loses the text, as a terminal nobody
        // watches would; the registry keeps serving either way.
        let _ = out.write_all(&text).and_then(|()| out.flush());
        state = shared.lock();
        state.queued_bytes -= text.len();
        shared.changed.notify_all();
    }
    drop(state);
    shared.changed.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A stdout whose reader has stopped: every write waits until the test
    /// lets one through, and what is written is kept.
    struct Gate {
        open: mpsc::Receiver<()>,
        written: Arc<Mutex<String>>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.open
                .recv()
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
            self.written
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(buf));
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stopped_reader_costs_lines_not_the_caller_and_the_loss_is_counted() {
        let (open, gate) = mpsc::channel();
        let written = Arc::new(Mutex::new(String::new()));
        let mut q = StdoutQueue::new(Gate {
            open: gate,
            written: written.clone(),
        })
        .unwrap();
        let line = format!("{}\n", "x".repeat(99));
        let lines = 2 * MAX_QUEUED_BYTES / line.len();
        for _ in 0..lines {
            // Each flush returns at once although nothing can be written.
            q.write_all(line.as_bytes()).unwrap();
            q.flush().unwrap();
        }
        let queued = q.shared.lock().queued_bytes;
        assert!(queued <= MAX_QUEUED_BYTES, "{queued}");
        let dropped = q.shared.lock().dropped;
        assert_eq!(dropped as usize, lines - MAX_QUEUED_BYTES / line.len());
        // The reader comes back: everything queued, then the count.
        for _ in 0..lines + 2 {
            let _ = open.send(());
        }
        assert!(q.wait_written(Duration::from_secs(10)));
        let text = written.lock().unwrap().clone();
        assert!(
            text.ends_with(&dropped_line(dropped)),
            "{}",
            &text[text.len() - 200..]
        );
        assert_eq!(
            text.matches('\n').count() as u64,
            lines as u64 - dropped + 1
        );
    }

    #[test]
    fn the_count_goes_where_the_lost_lines_were() {
        let (open, gate) = mpsc::channel();
        let written = Arc::new(Mutex::new(String::new()));
        let mut q = StdoutQueue::new(Gate {
            open: gate,
            written: written.clone(),
        })
        .unwrap();
        let big = "y".repeat(MAX_QUEUED_BYTES - 1) + "\n";
        q.write_all(big.as_bytes()).unwrap();
        q.flush().unwrap();
        q.write_all(b"lost one\nlost two\n").unwrap();
        q.flush().unwrap();
        open.send(()).unwrap();
        // Room again: the count comes before the next line, whether the
        // writer prints it on its own or the next batch carries it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while q.shared.lock().queued_bytes > MAX_QUEUED_BYTES / 2 {
            assert!(Instant::now() < deadline);
            std::thread::yield_now();
        }
        q.write_all(b"kept\n").unwrap();
        for _ in 0..4 {
            let _ = open.send(());
        }
        assert!(q.wait_written(Duration::from_secs(10)));
        let text = written.lock().unwrap().clone();
        assert_eq!(&text[big.len()..], format!("{}kept\n", dropped_line(2)));
    }

    #[test]
    fn a_partial_line_or_character_waits_for_its_end() {
        let (open, gate) = mpsc::channel();
        let written = Arc::new(Mutex::new(String::new()));
        let mut q = StdoutQueue::new(Gate {
            open: gate,
            written: written.clone(),
        })
        .unwrap();
        q.write_all(b"half").unwrap();
        q.flush().unwrap();
        assert_eq!(q.shared.lock().queued_bytes, 0);
        // A character cut in two by the writes that carry it stays whole.
        let e = "é".as_bytes();
        q.write_all(&e[..1]).unwrap();
        q.flush().unwrap();
        q.write_all(&e[1..]).unwrap();
        q.write_all(b" and the rest\n").unwrap();
        let _ = open.send(());
        assert!(q.wait_written(Duration::from_secs(10)));
        assert_eq!(*written.lock().unwrap(), "halfé and the rest\n");
    }
}
