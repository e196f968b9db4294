use super::*;

#[test]
fn mono_is_preferred_then_stereo() {
    assert_eq!(choose_channels(1, 2), Some(1));
    assert_eq!(choose_channels(1, 8), Some(1));
    assert_eq!(choose_channels(2, 2), Some(2));
    assert_eq!(choose_channels(2, 8), Some(2));
    assert_eq!(choose_channels(4, 8), None);
    assert_eq!(choose_channels(0, 0), None);
    assert_eq!(choose_channels(3, 1), None);
}

#[test]
fn buffer_is_whole_periods_covering_the_wanted_frames() {
    assert_eq!(buffer_frames(960, 4), Some(3840));
    assert_eq!(buffer_frames(960, 3), Some(2880));
    // 1024-frame periods (power-of-two hardware): 3 frames need 3 periods.
    assert_eq!(buffer_frames(1024, 3), Some(3072));
    assert_eq!(buffer_frames(256, 3), Some(256 * 12));
    // Never fewer than two periods.
    assert_eq!(buffer_frames(1920, 1), Some(3840));
    assert_eq!(buffer_frames(960, 0), Some(1920));
}

#[test]
fn periods_far_from_20_ms_are_refused() {
    assert_eq!(buffer_frames(0, 4), None);
    assert_eq!(buffer_frames(MIN_PERIOD_FRAMES - 1, 4), None);
    assert_eq!(buffer_frames(MAX_PERIOD_FRAMES + 1, 4), None);
    assert!(buffer_frames(MIN_PERIOD_FRAMES, 4).is_some());
    assert!(buffer_frames(MAX_PERIOD_FRAMES, 4).is_some());
    assert_eq!(buffer_frames(usize::MAX, 4), None);
}

#[test]
fn downmix_averages_without_overflow() {
    let stereo = [
        100,
        200,
        i16::MAX,
        i16::MAX,
        i16::MIN,
        i16::MIN,
        i16::MAX,
        i16::MIN,
        -3,
        0,
    ];
    let mut mono = [7; 5];
    downmix_stereo(&stereo, &mut mono);
    assert_eq!(mono, [150, i16::MAX, i16::MIN, 0, -1]);
}

#[test]
fn downmix_stops_at_the_shorter_side() {
    let mut mono = [7; 3];
    downmix_stereo(&[2, 4, 6], &mut mono);
    assert_eq!(mono, [3, 7, 7]);
    downmix_stereo(&[], &mut mono);
    downmix_stereo(&[1, 1, 1, 1], &mut []);
}

#[test]
fn duplication_fills_both_channels() {
    let mut stereo = [0; 6];
    duplicate_to_stereo(&[1, -2, i16::MIN], &mut stereo);
    assert_eq!(stereo, [1, 1, -2, -2, i16::MIN, i16::MIN]);
    let mut short = [9; 3];
    duplicate_to_stereo(&[5, 6], &mut short);
    assert_eq!(short, [5, 5, 9]);
}

#[test]
fn duplicate_then_downmix_is_identity() {
    let mono: Vec<i16> = (0..FRAME_SAMPLES)
        .map(|i| (i as i16).wrapping_mul(67))
        .collect();
    let mut stereo = vec![0; FRAME_SAMPLES * 2];
    duplicate_to_stereo(&mono, &mut stereo);
    let mut back = vec![0; FRAME_SAMPLES];
    downmix_stereo(&stereo, &mut back);
    assert_eq!(back, mono);
}

fn probe(device: u32, stream: Stream, name: &str) -> PcmProbe {
    PcmProbe {
        device,
        stream,
        name: name.to_string(),
    }
}

#[test]
fn probes_gather_into_one_entry_per_device() {
    let probes = [
        probe(1, Stream::Playback, "Loopback PCM"),
        probe(0, Stream::Playback, "Loopback PCM"),
        probe(0, Stream::Capture, "Loopback PCM"),
        probe(1, Stream::Capture, "Loopback PCM"),
        probe(3, Stream::Capture, "USB Mic"),
    ];
    let card = card_info(2, "Loopback", "Loopback", &probes);
    assert_eq!(card.index, 2);
    assert_eq!(card.id, "Loopback");
    let summary: Vec<_> = card
        .pcms
        .iter()
        .map(|p| (p.device, p.playback, p.capture))
        .collect();
    assert_eq!(
        summary,
        [(0, true, true), (1, true, true), (3, false, true)]
    );
    assert_eq!(card.pcms[0].hw, "hw:CARD=Loopback,DEV=0");
    assert_eq!(card.pcms[2].plughw, "plughw:CARD=Loopback,DEV=3");
    assert_eq!(card.pcms[2].name, "USB Mic");
}

#[test]
fn a_card_without_devices_or_id_is_still_listed() {
    let card = card_info(5, "", "Odd", &[]);
    assert!(card.pcms.is_empty());
    let card = card_info(5, "", "Odd", &[probe(0, Stream::Playback, "")]);
    assert_eq!(card.pcms[0].hw, "hw:CARD=5,DEV=0");
    assert!(card.pcms[0].playback && !card.pcms[0].capture);
}

#[test]
fn card_devices_are_told_from_others() {
    for name in [
        "default",
        "hw:0,0",
        "plughw:CARD=Loopback,DEV=1",
        "sysdefault:CARD=0",
        "dmix:0",
    ] {
        assert!(needs_card(name), "{name}");
    }
    for name in ["pipewire", "pulse", "null", "defaults", "plug:file", ""] {
        assert!(!needs_card(name), "{name}");
    }
}

#[test]
fn errno_text_drops_the_os_error_suffix() {
    assert_eq!(errno_text(libc::ENOENT), "No such file or directory");
    assert_eq!(errno_text(libc::EBUSY), "Device or resource busy");
    assert_eq!(errno_text(i32::MIN), errno_text(i32::MIN));
}

#[test]
fn errors_are_one_line_and_say_what_to_do() {
    let d = || "hw:1,0".to_string();
    let errors = [
        SoundError::BadName {
            device: "a\0b\nc".to_string(),
        },
        SoundError::Open {
            device: "default".into(),
            stream: Stream::Capture,
            errno: libc::ENOENT,
            no_card: true,
        },
        SoundError::Open {
            device: d(),
            stream: Stream::Playback,
            errno: libc::ENOENT,
            no_card: false,
        },
        SoundError::Open {
            device: d(),
            stream: Stream::Playback,
            errno: libc::EBUSY,
            no_card: false,
        },
        SoundError::Open {
            device: d(),
            stream: Stream::Capture,
            errno: libc::EACCES,
            no_card: false,
        },
        SoundError::Unsupported {
            device: d(),
            stream: Stream::Capture,
            what: Unsupported::Format,
        },
        SoundError::Unsupported {
            device: d(),
            stream: Stream::Capture,
            what: Unsupported::Rate { nearest: 44_100 },
        },
        SoundError::Unsupported {
            device: d(),
            stream: Stream::Capture,
            what: Unsupported::Channels { min: 4, max: 8 },
        },
        SoundError::Unsupported {
            device: d(),
            stream: Stream::Playback,
            what: Unsupported::Period { nearest: 64 },
        },
        SoundError::Unsupported {
            device: d(),
            stream: Stream::Playback,
            what: Unsupported::Buffer {
                period: 960,
                buffer: 960,
            },
        },
        SoundError::Setup {
            device: d(),
            stream: Stream::Capture,
            call: "snd_pcm_hw_params",
            errno: libc::EPIPE,
        },
        SoundError::Stalled {
            device: d(),
            stream: Stream::Capture,
        },
        SoundError::Stalled {
            device: d(),
            stream: Stream::Playback,
        },
        SoundError::Lost {
            device: d(),
            stream: Stream::Capture,
            errno: libc::ENODEV,
        },
        SoundError::FrameLength {
            expected: FRAME_SAMPLES,
            got: 3,
        },
    ];
    for e in errors {
        let text = e.to_string();
        assert!(!text.contains('\n') && !text.contains('\0'), "{text:?}");
        assert!(!text.contains("os error"), "{text}");
    }
    let e = SoundError::Open {
        device: "default".into(),
        stream: Stream::Capture,
        errno: libc::ENOENT,
        no_card: true,
    };
    assert_eq!(
        e.to_string(),
        "no sound card: ALSA device 'default' cannot be opened (No such file or directory); `peercall devices` lists the sound cards, or use --audio-in tone, or --no-audio"
    );
    let e = SoundError::Unsupported {
        device: d(),
        stream: Stream::Capture,
        what: Unsupported::Rate { nearest: 44_100 },
    };
    assert_eq!(
        e.to_string(),
        "ALSA device 'hw:1,0' cannot capture at 48000 Hz (nearest 44100 Hz); use 'plughw:1,0' or 'default', which resample"
    );
}

#[test]
fn bad_names_are_refused_before_alsa_sees_them() {
    assert!(matches!(Capture::open(""), Err(SoundError::BadName { .. })));
    for name in ["hw:0\0,0", "hw:0,0\n", "default\r\nnext line"] {
        let e = Playback::open(name).err();
        assert!(matches!(e, Some(SoundError::BadName { .. })), "{name:?}");
        let text = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(!text.contains(['\n', '\r', '\0']), "{text:?}");
    }
}

#[test]
fn a_missing_device_is_an_error_not_a_panic() {
    // On a machine with no such card (any CI machine) this cannot open;
    // on one with 32 cards it might, which is fine too.
    if let Err(e) = Capture::open("hw:31,0") {
        assert!(matches!(e, SoundError::Open { .. }), "{e}");
    }
    if let Err(e) = Playback::open("no-such-alsa-device") {
        assert!(matches!(e, SoundError::Open { .. }), "{e}");
    }
    // Listing never fails; on this machine it may well be empty, and
    // then opening anything says there is no sound card at all.
    let cards = cards();
    for card in &cards {
        assert!(card.index >= 0);
    }
    if cards.is_empty() {
        let e = Capture::open("default").err().expect("no card, no capture");
        assert!(matches!(e, SoundError::Open { no_card: true, .. }), "{e}");
        assert!(e.to_string().starts_with("no sound card: "), "{e}");
    }
}

#[test]
fn a_card_that_is_not_there_is_named_and_other_names_are_left_to_opening() {
    let cards = [card_info(
        1,
        "Headset",
        "USB Headset",
        &[probe(0, Stream::Playback, "USB Audio")],
    )];
    for (device, missing) in [
        ("hw:9,0", Some("9")),
        ("plughw:9", Some("9")),
        ("hw:CARD=Loopback,DEV=0", Some("Loopback")),
        ("sysdefault:CARD=Loopback", Some("Loopback")),
        ("hw:1,0", None),
        ("plughw:CARD=Headset,DEV=0", None),
        ("hw:Headset", None),
        ("default", None),
        ("pulse", None),
        ("dmix:DEV=0", None),
    ] {
        assert_eq!(missing_card(device, &cards), missing, "{device}");
    }
    assert_eq!(missing_card("hw:1,0", &[]), Some("1"));
    assert_eq!(cards_there(&[]), "this machine has none");
    assert_eq!(cards_there(&cards), "the cards are 1 (Headset)");
}
