//! `quit` on stdin, and Ctrl-D on a terminal, end a running peer at once:
//! it unregisters and exits without waiting out a timer. (End of a piped
//! stdin without `quit` does not stop a peer: peers_find_each_other.rs.)

use peercall_testkit::{bin, Proc, Registry, SYNTHETIC_MEDIA};
use std::time::{Duration, Instant};

/// Generous bound on the time from `quit` to the process's exit, for a
/// loaded test machine; the peer itself takes milliseconds.
const PROMPT: Duration = Duration::from_secs(3);

fn peer_args(name: &str, registry: &str) -> Vec<String> {
    let mut args: Vec<String> = ["run", "--name", name, "--registry", registry]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--listen", "127.0.0.1:0"].map(String::from));
    args.extend(SYNTHETIC_MEDIA.map(String::from));
    args.extend(["--video-out", "null"].map(String::from));
    args
}

/// Waits for `p` to exit, at most [`PROMPT`] after `since`; its exit code.
fn exits_promptly(p: &mut Proc, since: Instant) -> Option<i32> {
    let code = p.wait_exit();
    let took = since.elapsed();
    assert!(
        took < PROMPT,
        "took {took:?} to exit; output:\n{}",
        p.output()
    );
    code
}

#[test]
fn a_piped_quit_exits_at_once_registered_or_not() {
    let reg = Registry::start(&[]);
    let r = reg.arg();
    // Registered: quit unregisters, the goodbye comes, the peer exits.
    let args = peer_args("alice", &r);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut alice = Proc::start("alice", &bin("peercall"), &args);
    alice.expect("registered as alice");
    let sent = Instant::now();
    alice.send_line("quit");
    alice.close_stdin();
    alice.expect("goodbye from registry");
    assert_eq!(exits_promptly(&mut alice, sent), Some(0));

    // `printf 'quit\n' | peercall run ...`: quit before the registry answered.
    let args = peer_args("bob", &r);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let sent = Instant::now();
    let mut bob = Proc::start("bob", &bin("peercall"), &args);
    bob.send_line("quit");
    bob.close_stdin();
    assert_eq!(exits_promptly(&mut bob, sent), Some(0));
}

#[test]
fn ctrl_d_on_a_terminal_quits_at_once() {
    // script(1) (util-linux, essential on Debian) runs the peer on a
    // terminal and passes the end of its own stdin on as Ctrl-D.
    let Ok(script) = which("script") else {
        panic!("script(1) from util-linux is needed to give the peer a terminal; apt-get install bsdutils");
    };
    let reg = Registry::start(&[]);
    let mut line = vec![bin("peercall").display().to_string()];
    line.extend(peer_args("carol", &reg.arg()));
    let line = line
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut carol = Proc::start("carol", &script, &["-qec", &line, "/dev/null"]);
    carol.expect("registered as carol");
    let sent = Instant::now();
    carol.close_stdin();
    carol.expect("goodbye from registry");
    assert_eq!(exits_promptly(&mut carol, sent), Some(0));
    reg.proc.output();
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .ok_or(())
}
