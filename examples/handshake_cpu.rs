//! CPU time of complete call handshakes (issue 16's figure: at most 20 ms on
//! the emulated aarch64 board): both sides of N Noise IK handshakes
//! (`Initiator::start`, `respond`, `finish`) plus one sealed INVITE-sized
//! message each way, all on this thread, timed by the process's CPU clock
//! (`/proc/self/stat` utime + stime; under qemu-user, which shows the guest
//! zeros there, time the whole process from outside with `time`) and by
//! the wall clock.
//!
//! ```text
//! cargo run --release --example handshake_cpu -- 200
//! cargo build --release --example handshake_cpu --target aarch64-unknown-linux-gnu
//! time qemu-aarch64 -cpu cortex-a72 target/aarch64-unknown-linux-gnu/release/examples/handshake_cpu 1000
//! ```

use peercall::call::secure::{respond, Initiator};
use peercall::identity::Identity;
use peercall::wire::{CallId, Message};
use std::time::Instant;

/// The process's user + system CPU time in clock ticks (USER_HZ, 100 on Linux).
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name's closing parenthesis; utime and stime
    // are fields 14 and 15 of the whole line.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let alice = Identity::from_seed(&[1; 32]);
    let bob = Identity::from_seed(&[2; 32]);
    let ticks0 = cpu_ticks();
    let wall0 = Instant::now();
    for i in 0..n {
        let mut seed = [0u8; 32];
        seed[..4].copy_from_slice(&i.to_be_bytes());
        let (init, hello) = Initiator::start(&alice, bob.public(), seed);
        seed[31] = 1;
        let (mut b, reply) = respond(&bob, &hello, seed).expect("handshake");
        let mut a = init.finish(&reply).expect("reply");
        assert_eq!(a.media_secret(), b.media_secret());
        let Message::Sealed(s) = a
            .seal(&Message::Ringing(CallId(u64::from(i))))
            .expect("seal")
        else {
            unreachable!()
        };
        b.open(&s).expect("open");
    }
    let wall = wall0.elapsed();
    let per_wall_ms = wall.as_secs_f64() * 1000.0 / f64::from(n);
    match (ticks0, cpu_ticks()) {
        // qemu-user shows the guest a /proc/self/stat whose CPU times stay
        // 0: then measure the whole process from outside (`time`).
        (Some(t0), Some(t1)) if t1 > t0 => {
            let cpu_ms = (t1 - t0) as f64 * 10.0;
            println!(
                "{n} handshakes (both sides): CPU {:.2} ms each, wall {per_wall_ms:.2} ms each",
                cpu_ms / f64::from(n)
            );
        }
        _ => println!("{n} handshakes (both sides): wall {per_wall_ms:.2} ms each (no CPU clock)"),
    }
}
