//! What SRTP costs per packet and per megabyte, for each profile: protects
//! and unprotects a run of RTP packets of a call's sizes (1200-byte video,
//! 80-byte Opus) and prints the CPU time per packet and per MB. The figures
//! in docs/architecture.md come from it, on the host and under qemu-aarch64
//! (docs/benchmarks.md gives the commands).
//!
//!   cargo run --release -p peercall-srtp --example throughput [PACKETS]

use peercall_srtp::{Profile, Receiver, Sender};
use std::time::Instant;

fn main() {
    let packets: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    for profile in [Profile::AeadAes128Gcm, Profile::AesCm128HmacSha1_80] {
        for size in [1200usize, 80] {
            let master = vec![0x5a; profile.master_len()];
            let mut tx = Sender::new(profile, &master).expect("sender");
            let mut rx = Receiver::new(profile, &master).expect("receiver");
            let mut rtp = vec![0xabu8; size];
            rtp[..12].copy_from_slice(&[0x80, 26, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
            let (mut protect, mut unprotect) = (0f64, 0f64);
            for seq in 0..packets {
                rtp[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
                let t = Instant::now();
                let srtp = tx.protect_rtp(&rtp).expect("protect");
                let u = Instant::now();
                let back = rx.unprotect_rtp(&srtp).expect("unprotect");
                let v = Instant::now();
                assert_eq!(back.len(), size);
                protect += (u - t).as_secs_f64();
                unprotect += (v - u).as_secs_f64();
            }
            let n = f64::from(packets);
            let mb = n * size as f64 / 1e6;
            println!(
                "{profile:?} {size} B: protect {:.2} us/packet ({:.1} ms/MB), unprotect {:.2} us/packet ({:.1} ms/MB)",
                protect / n * 1e6,
                protect / mb * 1e3,
                unprotect / n * 1e6,
                unprotect / mb * 1e3,
            );
        }
    }
}
