//! What encoding one frame costs in CPU time, through the same wrappers a
//! call uses: a JPEG of the moving test pattern at 640x480 and at 320x240
//! (quality 75, planar YUV 4:2:0), and a 20 ms Opus voice frame of the test
//! tone (48 kHz mono, 32 kbit/s, FEC for 10% loss, the peer's settings).
//! Made to compare builds of the same code: the ARMv6 build against the
//! ARMv7 one, both under qemu-arm (cross/README.md, "ARMv6"). The figure is
//! the median of ROUNDS rounds of FRAMES frames each, in microseconds of the
//! process's CPU time per frame, so that other work on the machine counts
//! for little; under qemu that is the emulator's time, a ratio and no more.
//!
//! ```text
//! cargo run --release -p peercall-codecs --example encode_cost [-- FRAMES [ROUNDS]]
//! ```

use peercall::media::pattern::{draw, Stamp, Yuv420};
use peercall::media::session::AudioTarget;
use peercall::media::tone::Tone;
use peercall_codecs::jpeg::{YuvJpegEncoder, DEFAULT_QUALITY};
use peercall_codecs::opus::{VoiceEncoder, FRAME_SAMPLES};

/// The process's CPU time so far, in microseconds.
fn cpu_us() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    t.tv_sec as u64 * 1_000_000 + t.tv_nsec as u64 / 1000
}

/// Median over `rounds` of the CPU microseconds per call of `one`, each
/// round `frames` calls long.
fn cost(frames: u32, rounds: u32, mut one: impl FnMut(u32)) -> u64 {
    let mut per_frame: Vec<u64> = (0..rounds)
        .map(|round| {
            let start = cpu_us();
            for i in 0..frames {
                one(round * frames + i);
            }
            (cpu_us() - start) / u64::from(frames)
        })
        .collect();
    per_frame.sort_unstable();
    per_frame[per_frame.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut number = |default: u32| {
        args.next().map_or(default, |a| {
            a.parse().unwrap_or_else(|_| panic!("{a:?} is not a count"))
        })
    };
    let frames = number(30);
    let rounds = number(5).max(1);

    for (width, height) in [(640, 480), (320, 240)] {
        let mut pic = Yuv420::new(width, height);
        let mut enc = YuvJpegEncoder::new(DEFAULT_QUALITY).expect("a JPEG compressor");
        let mut bytes = 0;
        let us = cost(frames, rounds, |n| {
            draw(
                &mut pic,
                Stamp {
                    frame: n,
                    capture_us: u64::from(n) * 33_333,
                },
            );
            bytes = enc.encode(&pic).expect("the pattern encodes").len();
        });
        println!(
            "jpeg {width}x{height} q{DEFAULT_QUALITY}: {us} us/frame ({bytes} bytes), median of {rounds} rounds of {frames}"
        );
    }

    let mut tone = Tone::new();
    let mut enc = VoiceEncoder::new().expect("an Opus encoder");
    let mut samples = vec![0i16; FRAME_SAMPLES];
    let opus_frames = frames * 10;
    let us = cost(opus_frames, rounds, |_| {
        tone.fill(&mut samples);
        enc.encode(&samples).expect("the tone encodes");
    });
    let t = AudioTarget::INITIAL;
    println!(
        "opus 20 ms 48 kHz mono {} kbit/s FEC {}%: {us} us/frame, median of {rounds} rounds of {opus_frames}",
        t.bitrate / 1000,
        t.expected_loss_percent
    );
}
