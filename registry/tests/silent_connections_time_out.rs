//! Silence costs a registration; idleness costs an unregistered connection.

use peercall::wire::{GoodbyeReason, Message, Name, Register};
use peercall_testkit::{Client, Registry};

#[test]
fn silent_registration_expires_and_idle_connection_is_closed() {
    let mut reg = Registry::start(&["--silence-timeout", "0.5", "--idle-timeout", "0.5"]);
    let mut silent = Client::connect(reg.addr);
    let mut idle = Client::connect(reg.addr);
    let mut chatty = Client::connect(reg.addr);
    for (c, n, port) in [(&mut silent, "quiet", 6001), (&mut chatty, "chatty", 6002)] {
        assert!(matches!(
            c.ask(&Message::Register(Register {
                name: Name::new(n).unwrap(),
                addr: format!("127.0.0.1:{port}").parse().unwrap(),
            })),
            Message::Registered(_)
        ));
    }
    // chatty pings every 100 ms for 1.2 s; the others say nothing.
    for t in 0..12 {
        assert_eq!(chatty.ask(&Message::Ping(t)), Message::Pong(t));
        std::thread::sleep(std::time::Duration::from_millis(100));
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
