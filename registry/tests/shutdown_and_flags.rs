//! SIGTERM and SIGINT end the registry in order; bad flags get one clear line.

use peercall::wire::{GoodbyeReason, Message};
use peercall_testkit::{bin, run, test_identity, Client, Registry, StateDir};

#[test]
fn signals_say_goodbye_to_every_client() {
    for sig in ["TERM", "INT"] {
        let mut reg = Registry::start(&[]);
        let mut a = Client::connect(reg.addr);
        let mut b = Client::connect(reg.addr);
        assert!(matches!(
            {
                let m =
                    a.signed_register(&test_identity("a"), "a", "127.0.0.1:7000".parse().unwrap());
                a.ask(&m)
            },
            Message::Registered(_)
        ));
        assert_eq!(b.ask(&Message::Ping(1)), Message::Pong(1));
        reg.proc.signal(sig);
        for c in [&mut a, &mut b] {
            assert_eq!(
                c.recv(),
                Some(Message::Goodbye(GoodbyeReason::ShuttingDown))
            );
            assert_eq!(c.recv(), None);
        }
        reg.proc
            .expect("shutting down: said goodbye to 2 connections");
        assert_eq!(reg.proc.wait_exit(), Some(0));
    }
}

#[test]
fn bad_flags_get_one_line_and_exit_64() {
    let registry = bin("peercall-registry");
    for args in [
        &["--listen", "nowhere"][..],
        &["--silence-timeout", "-1"],
        &["--max-connections", "zero"],
        &["--bogus"],
        &["--listen"],
        &["--name-lease", "3w"],
        &["--name-lease", "0d"],
    ] {
        let (code, out, err) = run(&registry, args);
        assert_eq!(code, 64, "{args:?}");
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("peercall-registry: "), "{err}");
    }
}

#[test]
fn port_in_use_is_explained() {
    let reg = Registry::start(&[]);
    let dir = StateDir::new();
    let (code, _, err) = run(
        &bin("peercall-registry"),
        &["--listen", &reg.arg(), "--state-dir", &dir.arg()],
    );
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("in use"), "{err}");
}
