//! The user's side of `peercall run`: a thread reads stdin line by line
//! (stdin cannot be polled portably: it may be a file, a pipe or a
//! terminal) and wakes the loop, which carries out each command.

use super::Peer;
use mio::Waker;
use peercall::wire::Name;
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Instant;

/// Longest command line read from stdin; longer lines are refused, not buffered.
pub const MAX_COMMAND_LEN: usize = 1024;

/// A line from the stdin thread.
pub(super) enum Line {
    Command(String),
    TooLong,
    /// End of input on a terminal: the user pressed Ctrl-D, meaning quit.
    EndOfTerminal,
}

/// Reads stdin line by line on its own thread (stdin cannot be polled
/// portably: it may be a file, a pipe or a terminal) and wakes the loop.
pub(super) fn spawn_stdin(waker: Arc<Waker>) -> Receiver<Line> {
    let (tx, rx) = mpsc::channel();
    let terminal = io::stdin().is_terminal();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let stdin = io::stdin();
            let mut lock = stdin.lock();
            let mut buf = Vec::new();
            loop {
                buf.clear();
                let mut limited = (&mut lock).take(MAX_COMMAND_LEN as u64 + 1);
                match limited.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => {
                        if terminal {
                            let _ = tx.send(Line::EndOfTerminal);
                            let _ = waker.wake();
                        }
                        // A script's stdin ended: keep running until a signal.
                        return;
                    }
                    Ok(_) => {
                        let line = if buf.len() > MAX_COMMAND_LEN && !buf.ends_with(b"\n") {
                            // Skip the rest of the over-long line.
                            let mut sink = Vec::new();
                            let _ = lock.read_until(b'\n', &mut sink);
                            Line::TooLong
                        } else {
                            Line::Command(String::from_utf8_lossy(&buf).trim().to_owned())
                        };
                        if tx.send(line).is_err() || waker.wake().is_err() {
                            return;
                        }
                    }
                }
            }
        })
        .expect("spawning the stdin thread");
    rx
}

impl Peer {
    /// Carries out one line the user typed.
    pub(super) fn command(&mut self, line: Line) {
        let text = match line {
            Line::Command(t) => t,
            Line::TooLong => {
                println!("command too long (at most {MAX_COMMAND_LEN} bytes); type help");
                return;
            }
            Line::EndOfTerminal => "quit".to_owned(),
        };
        let mut words = text.split_whitespace();
        let Some(cmd) = words.next() else { return };
        let args: Vec<&str> = words.collect();
        let now = Instant::now();
        match (cmd, &args[..]) {
            ("list", []) => {
                self.screen.list_requested(false);
                self.membership.list();
            }
            ("lookup", [n]) => match Name::new(n) {
                Ok(name) => self.membership.lookup(name),
                Err(e) => println!("'{n}' is not a valid name: {e}"),
            },
            ("lookup", _) => println!("usage: lookup NAME"),
            ("call", [n]) => match Name::new(n) {
                Ok(name) => self.start_call(name),
                Err(e) => println!("'{n}' is not a valid name: {e}"),
            },
            ("call", _) => println!("usage: call NAME"),
            ("accept", []) => self.accept(now),
            ("reject", []) => {
                if let Err(e) = self.phone.reject(now) {
                    println!("cannot reject: no incoming call ({e})");
                }
            }
            ("hangup", []) => {
                if let Err(e) = self.phone.hangup(now) {
                    println!("cannot hang up: {e}");
                }
            }
            ("status", []) => self.status(now),
            ("trust", []) => self.trust_caller(now),
            ("mute", []) => self.toggle_mute(),
            ("quit" | "exit", []) => self.quit(now),
            ("help", []) => println!(
                "commands: call NAME, accept, reject, hangup, status, list, lookup NAME, mute, trust, help, quit"
            ),
            _ => println!("unknown command '{text}'; type help"),
        }
        let _ = io::stdout().flush();
    }
}
