//! The impairment's tests: loss, bursts, the bottleneck and its window, in
//! simulated time, seeded.

use super::*;

fn run(cfg: ImpairConfig, n: u32) -> (Vec<u32>, ImpairStats) {
    let mut imp = Impairment::new(cfg);
    let t0 = Instant::now();
    let mut out = Vec::new();
    for k in 0..n {
        let now = t0 + Duration::from_millis(20) * k;
        imp.send(now, k);
        while let Some(p) = imp.poll(now) {
            out.push(p);
        }
    }
    let end = t0 + Duration::from_secs(3600);
    while let Some(p) = imp.poll(end) {
        out.push(p);
    }
    (out, imp.stats().clone())
}

/// A packet delivered: its number, when it was sent and when it came out.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Arrival {
    k: u32,
    sent: Duration,
    at: Duration,
}

/// Offers `len`-byte packets every `gap` for `span`, polling at every
/// send and at every delivery time in between (as a peer's loop would,
/// sleeping until `next_timeout`), then drains.
fn offer(
    cfg: ImpairConfig,
    len: usize,
    gap: Duration,
    span: Duration,
) -> (Vec<Arrival>, ImpairStats) {
    let mut imp = Impairment::new(cfg);
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut sent_at = Vec::new();
    let mut take = |imp: &mut Impairment<u32>, now: Instant, sent_at: &[Duration]| {
        while let Some(k) = imp.poll(now) {
            out.push(Arrival {
                k,
                sent: sent_at[k as usize],
                at: now - t0,
            });
        }
    };
    let mut k = 0u32;
    while gap * k < span {
        let now = t0 + gap * k;
        while let Some(due) = imp.next_timeout().filter(|&d| d < now) {
            take(&mut imp, due, &sent_at);
        }
        sent_at.push(now - t0);
        imp.send_sized(now, k, len);
        take(&mut imp, now, &sent_at);
        k += 1;
    }
    while let Some(due) = imp.next_timeout() {
        take(&mut imp, due, &sent_at);
    }
    (out, imp.stats().clone())
}

fn bytes_between(out: &[Arrival], len: usize, from: Duration, to: Duration) -> usize {
    out.iter().filter(|a| a.at >= from && a.at < to).count() * len
}

#[test]
fn no_impairment_delivers_everything_in_order() {
    let (out, st) = run(ImpairConfig::default(), 1000);
    assert_eq!(out, (0..1000).collect::<Vec<_>>());
    assert_eq!(st.delivered, 1000);
}

#[test]
fn loss_rate_is_about_what_was_asked_and_seeded() {
    let cfg = ImpairConfig {
        loss: 0.05,
        seed: 42,
        ..ImpairConfig::default()
    };
    let (a, st) = run(cfg.clone(), 20_000);
    let rate = st.lost as f64 / 20_000.0;
    assert!((rate - 0.05).abs() < 0.01, "{rate}");
    let (b, _) = run(cfg, 20_000);
    assert_eq!(a, b, "same seed, same losses");
}

#[test]
fn jitter_beyond_the_spacing_reorders_and_duplicates_are_extra() {
    let cfg = ImpairConfig {
        delay: Duration::from_millis(10),
        jitter: Duration::from_millis(60),
        duplicate: 0.02,
        ..ImpairConfig::default()
    };
    let (out, st) = run(cfg, 5000);
    assert!(out.windows(2).any(|w| w[0] > w[1]), "some reordering");
    assert_eq!(out.len() as u64, 5000 + st.duplicated);
    assert!(st.duplicated > 50);
}

#[test]
fn in_flight_packets_are_bounded() {
    let mut imp = Impairment::new(ImpairConfig {
        delay: Duration::from_secs(10),
        ..ImpairConfig::default()
    });
    let t0 = Instant::now();
    for k in 0..(MAX_IN_FLIGHT as u32 + 100) {
        imp.send(t0, k);
    }
    assert_eq!(imp.stats().overflow, 100);
    assert_eq!(imp.next_timeout(), Some(t0 + Duration::from_secs(10)));
}

#[test]
fn in_flight_bound_holds_with_a_deep_bottleneck_queue() {
    let mut imp = Impairment::new(ImpairConfig {
        rate: Some(MIN_RATE_BPS),
        queue: QueueDepth::Bytes(MAX_QUEUE_BYTES),
        ..ImpairConfig::default()
    });
    let t0 = Instant::now();
    for k in 0..(MAX_IN_FLIGHT as u32 + 100) {
        imp.send_sized(t0, k, 100);
    }
    assert_eq!(imp.stats().overflow, 100);
    assert_eq!(imp.stats().queue_dropped, 0);
    assert_eq!(imp.stats().queue_bytes, MAX_IN_FLIGHT as u64 * 100);
}

/// 10 s of 5 Mbit/s offered to a 2 Mbit/s link: 2 Mbit/s comes out,
/// the excess is dropped at the queue, and the queue adds no more delay
/// than its depth.
#[test]
fn a_rate_cap_delivers_the_rate_and_drops_the_excess_at_the_queue() {
    let cfg = ImpairConfig::parse("rate=2000kbit").unwrap();
    // 1250 bytes every 2 ms: 5 Mbit/s; each takes 5 ms on the link.
    let (out, st) = offer(cfg, 1250, Duration::from_millis(2), Duration::from_secs(10));
    let got = bytes_between(&out, 1250, Duration::ZERO, Duration::from_secs(10)) as f64;
    let want = 2e6 / 8.0 * 10.0;
    assert!((got - want).abs() / want < 0.02, "{got} bytes, want {want}");
    // Never two packets closer than the link takes to send one.
    for w in out.windows(2) {
        assert!(w[1].at - w[0].at >= Duration::from_millis(5), "{w:?}");
        assert!(w[0].k < w[1].k, "reordered: {w:?}");
    }
    assert_eq!(st.lost, 0);
    assert_eq!(st.sent, st.delivered + st.queue_dropped);
    assert!(st.queue_dropped > 2900, "{st:?}");
    // The queue holds 250 ms at the rate: 62500 bytes, 50 packets.
    let depth = BOTTLENECK_QUEUE.as_secs_f64() * 2e6 / 8.0;
    assert_eq!(QueueDepth::Time(BOTTLENECK_QUEUE).bytes(2_000_000), 62_500);
    assert!(st.queue_peak_bytes as f64 <= depth, "{st:?}");
    assert!(st.queue_peak_bytes as f64 > depth - 1250.0, "{st:?}");
    let worst = out.iter().map(|a| a.at - a.sent).max().unwrap();
    assert!(worst <= BOTTLENECK_QUEUE, "{worst:?}");
    assert!(
        worst >= BOTTLENECK_QUEUE - Duration::from_millis(10),
        "{worst:?}"
    );
    // Once the offered load stops, the queue empties.
    assert_eq!(st.queue_bytes, 0);
}

#[test]
fn below_the_rate_nothing_queues_or_drops() {
    // 1 Mbit/s through 2 Mbit/s: each packet waits only for itself.
    let (out, st) = offer(
        ImpairConfig::parse("rate=2mbit,delay=20ms").unwrap(),
        1250,
        Duration::from_millis(10),
        Duration::from_secs(2),
    );
    assert_eq!(out.len(), 200);
    assert_eq!(st.queue_dropped, 0);
    for a in &out {
        assert_eq!(a.at - a.sent, Duration::from_millis(25), "{a:?}");
    }
}

#[test]
fn the_queue_depth_bounds_the_queueing_delay() {
    let full = 2e6 / 8.0 * 3.0;
    for (spec, most, want) in [
        ("rate=2mbit,queue=100ms", Duration::from_millis(100), full),
        // 20 kB at 2 Mbit/s is 80 ms.
        ("rate=2mbit,queue=20kb", Duration::from_millis(80), full),
        // Smaller than a packet: only the packet on the link, so the
        // link idles until the next one offered after it is free, one
        // 5 ms packet every 6 ms.
        (
            "rate=2mbit,queue=0ms",
            Duration::from_millis(5),
            full * 5.0 / 6.0,
        ),
    ] {
        let (out, st) = offer(
            ImpairConfig::parse(spec).unwrap(),
            1250,
            Duration::from_millis(2),
            Duration::from_secs(3),
        );
        let worst = out.iter().map(|a| a.at - a.sent).max().unwrap();
        assert!(worst <= most, "{spec}: {worst:?}");
        assert!(
            worst + Duration::from_millis(10) >= most,
            "{spec}: {worst:?}"
        );
        let got = bytes_between(&out, 1250, Duration::ZERO, Duration::from_secs(3)) as f64;
        assert!((got - want).abs() / want < 0.02, "{spec}: {got}");
        assert!(st.queue_dropped > 0, "{spec}");
    }
}

#[test]
fn unsized_packets_take_no_time_on_the_link() {
    let mut imp = Impairment::new(ImpairConfig::parse("rate=8kbit").unwrap());
    let t0 = Instant::now();
    // 1000 bytes hold an 8 kbit/s link for a second.
    imp.send_sized(t0, 0u32, 1000);
    imp.send(t0, 1);
    assert_eq!(imp.queue_delay(t0), Duration::from_secs(1));
    assert_eq!(imp.poll(t0 + Duration::from_millis(999)), None);
    assert_eq!(imp.poll(t0 + Duration::from_secs(1)), Some(0));
    assert_eq!(imp.poll(t0 + Duration::from_secs(1)), Some(1));
}

/// Loss runs: the lengths of the runs of consecutive lost packets.
fn loss_runs(cfg: ImpairConfig, n: u32) -> (f64, f64) {
    let (out, st) = run(cfg, n);
    let mut runs = Vec::new();
    let mut next = 0;
    for k in out {
        if k > next {
            runs.push(k - next);
        }
        next = k + 1;
    }
    if n > next {
        runs.push(n - next);
    }
    let lost: u32 = runs.iter().sum();
    assert_eq!(u64::from(lost), st.lost);
    (
        f64::from(lost) / f64::from(n),
        f64::from(lost) / runs.len() as f64,
    )
}

#[test]
fn bursty_loss_has_the_asked_rate_and_burst_length() {
    for (loss, burst, seed) in [
        (0.05, 4.0, 3),
        (0.2, 2.0, 4),
        (0.01, 10.0, 5),
        (0.1, 1.0, 6),
    ] {
        let cfg = ImpairConfig {
            loss,
            burst: Some(burst),
            seed,
            ..ImpairConfig::default()
        };
        let (rate, mean) = loss_runs(cfg, 100_000);
        assert!(
            (rate - loss).abs() < 0.01,
            "loss {loss} burst {burst}: {rate}"
        );
        assert!(
            (mean - burst).abs() / burst < 0.1,
            "loss {loss} burst {burst}: runs of {mean}"
        );
    }
    // Without `burst`, runs are as short as independence makes them:
    // 1 / (1 - 0.2) = 1.25 packets.
    let (rate, mean) = loss_runs(
        ImpairConfig {
            loss: 0.2,
            seed: 4,
            ..ImpairConfig::default()
        },
        100_000,
    );
    assert!((rate - 0.2).abs() < 0.01, "{rate}");
    assert!((mean - 1.25).abs() < 0.05, "{mean}");
}

#[test]
fn lifting_the_cap_at_until_lets_the_offered_rate_through_in_order() {
    let cfg = ImpairConfig::parse("rate=2000kbit,until=5s,delay=20ms").unwrap();
    let (out, st) = offer(cfg, 1250, Duration::from_millis(2), Duration::from_secs(10));
    let ms = Duration::from_millis;
    let s = Duration::from_secs;
    // Capped for the first 5 s (with the 20 ms delay after the link).
    let capped = bytes_between(&out, 1250, ms(20), ms(5020)) as f64;
    let want = 2e6 / 8.0 * 5.0;
    assert!((capped - want).abs() / want < 0.02, "{capped}");
    // What was queued at 5 s leaves then, all of it, in order.
    let burst = out.iter().filter(|a| a.at == ms(5020)).count();
    assert!(burst >= 45, "{burst} queued packets released at 5 s");
    // Then everything offered comes through: 5 Mbit/s, each packet only
    // delayed by `delay`.
    let free = bytes_between(&out, 1250, ms(5100), s(10)) as f64;
    let want = 5e6 / 8.0 * (10.0 - 5.1 + 0.02);
    assert!((free - want).abs() / want < 0.02, "{free}");
    for a in out.iter().filter(|a| a.sent >= s(5)) {
        assert_eq!(a.at - a.sent, ms(20), "{a:?}");
    }
    assert!(out.windows(2).all(|w| w[0].k < w[1].k), "reordered");
    assert!(out.iter().all(|a| a.sent < s(5) || a.at >= ms(5020)));
    assert_eq!(st.sent, st.delivered + st.queue_dropped);
    assert_eq!(st.queue_bytes, 0);
}

#[test]
fn a_cap_from_a_time_on_starts_then() {
    let cfg = ImpairConfig::parse("rate=2mbit,from=2s").unwrap();
    let (out, _) = offer(cfg, 1250, Duration::from_millis(2), Duration::from_secs(6));
    let s = Duration::from_secs;
    let before = bytes_between(&out, 1250, s(0), s(2)) as f64;
    assert_eq!(before, 5e6 / 8.0 * 2.0);
    let after = bytes_between(&out, 1250, s(3), s(6)) as f64;
    let want = 2e6 / 8.0 * 3.0;
    assert!((after - want).abs() / want < 0.02, "{after}");
    assert!(out.windows(2).all(|w| w[0].k < w[1].k), "reordered");
}

#[test]
fn loss_applies_only_inside_its_window() {
    let cfg = ImpairConfig::parse("loss=50%,burst=3,from=2s,until=4s,seed=11").unwrap();
    let (out, st) = offer(cfg, 100, Duration::from_millis(20), Duration::from_secs(6));
    let s = Duration::from_secs;
    let delivered = |from, to| out.iter().filter(|a| a.sent >= from && a.sent < to).count();
    assert_eq!(delivered(s(0), s(2)), 100);
    assert_eq!(delivered(s(4), s(6)), 100);
    let inside = delivered(s(2), s(4));
    assert!((30..=70).contains(&inside), "{inside} of 100");
    assert_eq!(st.lost, 100 - inside as u64);
}

#[test]
fn seeded_runs_repeat_exactly_and_seeds_differ() {
    let spec = "loss=3%,burst=2,delay=15ms,jitter=25ms,dup=2%,rate=1500kbit,queue=150ms,until=4s";
    let go = |seed: u64| {
        let mut cfg = ImpairConfig::parse(spec).unwrap();
        cfg.seed = seed;
        offer(cfg, 1000, Duration::from_millis(3), Duration::from_secs(6))
    };
    let (a, sa) = go(7);
    let (b, sb) = go(7);
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    assert!(
        sa.lost > 0 && sa.duplicated > 0 && sa.queue_dropped > 0,
        "{sa:?}"
    );
    let (c, _) = go(8);
    assert_ne!(a, c);
}

#[test]
fn a_window_covering_everything_changes_no_draw() {
    // The window, and a cap too fast to bite, leave a seeded run as it
    // was without them.
    let base = ImpairConfig::parse("loss=5%,delay=10ms,jitter=60ms,dup=2%,seed=9").unwrap();
    let windowed = ImpairConfig {
        from: Duration::ZERO,
        until: Some(Duration::from_secs(3600)),
        rate: Some(MAX_RATE_BPS),
        ..base.clone()
    };
    assert_eq!(run(base, 5000), run(windowed, 5000));
}

#[test]
fn descriptions_parse_or_say_what_is_wrong() {
    let c = ImpairConfig::parse("loss=5%, delay=20ms,jitter=0.03s,dup=0.01,seed=7").unwrap();
    assert_eq!(c.loss, 0.05);
    assert_eq!(c.delay, Duration::from_millis(20));
    assert_eq!(c.jitter, Duration::from_millis(30));
    assert_eq!(c.duplicate, 0.01);
    assert_eq!(c.seed, 7);
    assert_eq!(ImpairConfig::parse("").unwrap(), ImpairConfig::default());
    let c = ImpairConfig::parse(EXAMPLE).unwrap();
    assert_eq!(c.burst, Some(3.0));
    assert_eq!(c.rate, Some(2_000_000));
    assert_eq!(c.queue, QueueDepth::Time(Duration::from_millis(250)));
    assert_eq!(c.from, Duration::from_secs(2));
    assert_eq!(c.until, Some(Duration::from_secs(10)));
    for (text, rate) in [
        ("rate=2000kbit", 2_000_000),
        ("rate=2Mbit", 2_000_000),
        ("rate=1.5mbit", 1_500_000),
        ("rate=64000bit", 64_000),
    ] {
        assert_eq!(
            ImpairConfig::parse(text).unwrap().rate,
            Some(rate),
            "{text}"
        );
    }
    for (text, queue) in [
        ("rate=1mbit,queue=64kb", QueueDepth::Bytes(64_000)),
        ("rate=1mbit,queue=64KiB", QueueDepth::Bytes(65_536)),
        ("rate=1mbit,queue=1500b", QueueDepth::Bytes(1500)),
        (
            "rate=1mbit,queue=0.1s",
            QueueDepth::Time(Duration::from_millis(100)),
        ),
    ] {
        assert_eq!(ImpairConfig::parse(text).unwrap().queue, queue, "{text}");
    }
    for (bad, names) in [
        ("loss=150%", "loss"),
        ("delay=20", "delay"),
        ("jitter=-1ms", "jitter"),
        ("bogus=1", "bogus"),
        ("loss", "loss"),
        ("seed=x", "seed"),
        ("rate=2000", "rate"),
        ("rate=0kbit", "rate"),
        ("rate=20gbit", "rate"),
        ("rate=fastmbit", "rate"),
        ("rate=20000mbit", "rate"),
        ("rate=1mbit,queue=5", "queue"),
        ("rate=1mbit,queue=1gb", "queue"),
        ("queue=100ms", "queue"),
        ("burst=3", "burst"),
        ("loss=5%,burst=0.5", "burst"),
        ("loss=5%,burst=x", "burst"),
        ("loss=70%,burst=2", "burst"),
        ("from=5s,until=2s", "until"),
        ("until=0s", "until"),
        ("until=2", "until"),
        ("from=2d", "from"),
        ("until=90000s", "until"),
    ] {
        let e = ImpairConfig::parse(bad).unwrap_err().to_string();
        assert!(e.contains("expected e.g."), "{bad}: {e}");
        assert!(e.contains(names), "{bad}: {e}");
    }
}
