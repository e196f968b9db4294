//! `--registry` pointed at something that is not a registry: a web server or
//! a peer's call port is named as such (`ADDR does not speak the registry
//! protocol`), exit 4 for list, lookup and call, a line per retry for run;
//! a server that says nothing keeps the timeout it had (exit 2).

use peercall_testkit::{bin, run, start_peer, start_peer_with, Registry, SYNTHETIC_MEDIA};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

fn peercall() -> PathBuf {
    bin("peercall")
}

/// A web server on a free loopback port that answers every request with
/// `400 Bad Request` and closes, as most do to bytes that are not HTTP.
fn web_server() -> SocketAddr {
    serve(|mut c| {
        let mut buf = [0u8; 512];
        let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = c.read(&mut buf);
        let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    })
}

/// A server that accepts and never says anything.
fn silent_server() -> SocketAddr {
    serve(|c| {
        std::thread::sleep(Duration::from_secs(20));
        drop(c);
    })
}

fn serve(each: fn(TcpStream)) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || each(c));
        }
    });
    addr
}

fn one_shots(addr: &str) -> [Vec<&str>; 3] {
    let mut call = vec!["call", "bob", "--name", "alice", "--registry", addr];
    call.extend(["--listen", "127.0.0.1:0", "--video-out", "null"]);
    call.extend(SYNTHETIC_MEDIA);
    [
        vec!["list", "--registry", addr],
        vec!["lookup", "bob", "--registry", addr],
        call,
    ]
}

/// list, lookup and call exit 4 with the one line; run says it on each try
/// and keeps trying.
fn is_told_apart(addr: &str, detail: &str) {
    let said = format!("{addr} does not speak the registry protocol");
    for args in one_shots(addr) {
        let (code, _, err) = run(&peercall(), &args);
        assert_eq!(code, 4, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with(&format!("peercall: {said}")), "{err}");
        assert!(err.contains(detail), "{err}");
        assert!(
            err.contains("is a peercall-registry running there?"),
            "{err}"
        );
    }
    let (mut p, _) = start_peer("carol", addr);
    let line = p.expect(&said);
    assert!(line.contains("Retrying in"), "{line}");
    p.expect(&said);
    p.signal("TERM");
    assert_eq!(p.wait_exit(), Some(0));
}

#[test]
fn a_web_server_does_not_speak_the_registry_protocol() {
    let addr = web_server().to_string();
    is_told_apart(&addr, "not peercall messages");
}

#[test]
fn a_peers_call_port_does_not_speak_the_registry_protocol() {
    let reg = Registry::start(&[]);
    let (mut bob, call_port) = start_peer_with("bob", &reg.arg(), &["--video-out", "null"]);
    bob.expect("registered as bob");
    is_told_apart(&call_port, "a peer's call port?");
}

#[test]
fn a_silent_server_keeps_the_timeout() {
    let addr = silent_server().to_string();
    let (code, _, err) = run(&peercall(), &["list", "--registry", &addr]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot reach the registry"), "{err}");
    assert!(err.contains("no answer for"), "{err}");
}
