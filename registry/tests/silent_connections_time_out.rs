//! Silence costs a registration; idleness costs an unregistered connection.

use peercall::wire::{GoodbyeReason, Message, Name};
use peercall_testkit::{test_identity, Client, Registry};
use std::time::Duration;

/// The registry's silence and idle timeouts here, as `--...-timeout` takes them.
const TIMEOUT_SECS: &str = "1";

/// How often the chatty client speaks: a tenth of the timeout, so a loaded
/// machine that delays the test thread does not make it look silent.
const CHATTY_GAP: Duration = Duration::from_millis(100);

/// How many times it speaks: for twice the timeout, so it outlives one.
const CHATTY_PINGS: u64 = 20;

#[test]
fn silent_registration_expires_and_idle_connection_is_closed() {
    let mut reg = Registry::start(&[
        "--silence-timeout",
        TIMEOUT_SECS,
        "--idle-timeout",
        TIMEOUT_SECS,
    ]);
    let mut silent = Client::connect(reg.addr);
    let mut idle = Client::connect(reg.addr);
    let mut chatty = Client::connect(reg.addr);
    for (c, n, port) in [(&mut silent, "quiet", 6001), (&mut chatty, "chatty", 6002)] {
        assert!(matches!(
            {
                let m = c.signed_register(
                    &test_identity(n),
                    n,
                    format!("127.0.0.1:{port}").parse().unwrap(),
                );
                c.ask(&m)
            },
            Message::Registered(_)
        ));
    }
    // chatty keeps speaking past the timeout; the others say nothing.
    for t in 0..CHATTY_PINGS {
        assert_eq!(chatty.ask(&Message::Ping(t)), Message::Pong(t));
        std::thread::sleep(CHATTY_GAP);
    }
    assert_eq!(
        silent.recv(),
        Some(Message::Goodbye(GoodbyeReason::SilenceTimeout))
    );
    assert_eq!(silent.recv(), None);
    assert_eq!(
        idle.recv(),
        Some(Message::Goodbye(GoodbyeReason::IdleTimeout))
    );
    assert_eq!(idle.recv(), None);
    reg.proc
        .expect("departed: quiet at 127.0.0.1:6001 (timed out)");
    assert!(matches!(
        chatty.ask(&Message::Lookup(Name::new("chatty").unwrap())),
        Message::Found(_)
    ));
}
