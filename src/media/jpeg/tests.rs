//! Packetizing real JPEG files, reassembling them, and which JPEG files can
//! and cannot be sent; shared helpers for the other test modules.
//!
//! The JPEG fixtures in tests/data/jpeg/ were made once by
//! tests/data/jpeg/make-fixtures.sh (ffmpeg and libjpeg-turbo's cjpeg), e.g.
//! `ffmpeg -f lavfi -i testsrc=size=64x48 -frames:v 1 -pix_fmt yuvj420p
//! -huffman default ffmpeg-64x48-420.jpg` and
//! `cjpeg -quality 75 -sample 2x1 64x48.ppm > cjpeg-64x48-422.jpg`; the
//! `*-restart` ones have a restart marker every MCU row (`cjpeg -restart 1`),
//! as many webcams write them.
//! "Decodes to the same pixels" is checked here without a decoder: the
//! rebuilt file must carry the original's scan bytes (restart markers
//! included), quantization tables, restart interval, size and sampling
//! unchanged, and use the standard Huffman tables the original used; only
//! the header layout differs. (Decoding the rebuilt files with ffmpeg and
//! djpeg, once, by hand, gave the original's pixels.)

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/jpeg/",
            $name
        ))
    };
}

pub(super) const FFMPEG_420: &[u8] = fixture!("ffmpeg-64x48-420.jpg");
pub(super) const FFMPEG_420_LARGE: &[u8] = fixture!("ffmpeg-320x240-420.jpg");
pub(super) const FFMPEG_422_2X2: &[u8] = fixture!("ffmpeg-64x48-422-2x2.jpg");
pub(super) const CJPEG_422: &[u8] = fixture!("cjpeg-64x48-422.jpg");
pub(super) const CJPEG_420_LARGE: &[u8] = fixture!("cjpeg-320x240-420-q75.jpg");
pub(super) const CJPEG_OPTIMIZED: &[u8] = fixture!("cjpeg-64x48-420-optimized.jpg");
/// Restart interval 4 (one MCU row), travels as type 64.
pub(super) const CJPEG_422_RESTART: &[u8] = fixture!("cjpeg-64x48-422-restart.jpg");
/// Restart interval 20 (one MCU row), travels as type 65.
pub(super) const CJPEG_420_RESTART: &[u8] = fixture!("cjpeg-320x240-420-restart.jpg");

/// The fixtures RFC 2435 can carry.
pub(super) const SENDABLE: [&[u8]; 6] = [
    FFMPEG_420,
    FFMPEG_420_LARGE,
    CJPEG_422,
    CJPEG_420_LARGE,
    CJPEG_422_RESTART,
    CJPEG_420_RESTART,
];

/// A small deterministic generator (xorshift64), so failures reproduce.
pub(super) struct XorShift(pub(super) u64);

impl XorShift {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(super) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

pub(super) fn fragments(jpeg: &[u8], max: usize) -> Vec<Fragment> {
    packetize(jpeg, max).expect("fixture packetizes").collect()
}

/// Feeds fragments in the given order; returns every frame output.
pub(super) fn feed(a: &mut FrameAssembler, ts: u32, frags: &[Fragment]) -> Vec<JpegFrame> {
    frags
        .iter()
        .enumerate()
        .filter_map(|(i, f)| a.push(i as u16, ts, f.marker, &f.payload).ok().flatten())
        .collect()
}

/// The rebuilt file carries what decides the pixels unchanged.
pub(super) fn assert_same_image(rebuilt: &[u8], original: &[u8]) {
    let a = JpegImage::parse(rebuilt).expect("rebuilt JPEG parses");
    let b = JpegImage::parse(original).unwrap();
    assert_eq!(a.scan(), b.scan(), "scan bytes");
    assert_eq!(a.tables(), b.tables(), "quantization tables");
    assert_eq!(
        a.restart_interval(),
        b.restart_interval(),
        "restart interval"
    );
    assert_eq!((a.width(), a.height()), (b.width(), b.height()));
    assert_eq!(a.subsampling(), b.subsampling());
}

#[test]
fn fixtures_parse_as_expected() {
    let i = JpegImage::parse(FFMPEG_420).unwrap();
    assert_eq!(
        (i.width(), i.height(), i.subsampling()),
        (64, 48, Subsampling::Yuv420)
    );
    // ffmpeg writes one table for all components.
    assert_eq!(i.tables().luma, i.tables().chroma);
    assert_eq!(i.scan().len(), 1276);

    let i = JpegImage::parse(CJPEG_422).unwrap();
    assert_eq!(
        (i.width(), i.height(), i.subsampling()),
        (64, 48, Subsampling::Yuv422)
    );
    let i = JpegImage::parse(CJPEG_420_LARGE).unwrap();
    assert_eq!(
        (i.width(), i.height(), i.subsampling()),
        (320, 240, Subsampling::Yuv420)
    );
    assert_eq!(i.scan().len(), 7265);
    assert_eq!(i.restart_interval(), 0);

    // The same pictures with a restart marker after every MCU row: 16x8
    // pixel MCUs for 4:2:2, 16x16 for 4:2:0.
    let i = JpegImage::parse(CJPEG_422_RESTART).unwrap();
    assert_eq!(
        (i.width(), i.height(), i.subsampling(), i.restart_interval()),
        (64, 48, Subsampling::Yuv422, 4)
    );
    assert_eq!(restart_markers(i.scan()), [0xd0, 0xd1, 0xd2, 0xd3, 0xd4]);
    let i = JpegImage::parse(CJPEG_420_RESTART).unwrap();
    assert_eq!(
        (i.width(), i.height(), i.subsampling(), i.restart_interval()),
        (320, 240, Subsampling::Yuv420, 20)
    );
    assert_eq!(restart_markers(i.scan()).len(), 14);
    assert_eq!(
        i.tables(),
        JpegImage::parse(CJPEG_420_LARGE).unwrap().tables()
    );
}

/// The restart marker codes in a scan, in order.
pub(super) fn restart_markers(scan: &[u8]) -> Vec<u8> {
    scan.windows(2)
        .filter(|w| w[0] == 0xff && (0xd0..=0xd7).contains(&w[1]))
        .map(|w| w[1])
        .collect()
}

#[test]
fn libjpeg_quality_tables_are_make_tables() {
    // libjpeg scales Annex K the same way, so this checks the zig-zag order.
    for jpeg in [
        CJPEG_422,
        CJPEG_420_LARGE,
        CJPEG_422_RESTART,
        CJPEG_420_RESTART,
    ] {
        assert_eq!(*JpegImage::parse(jpeg).unwrap().tables(), make_tables(75));
    }
}

#[test]
fn round_trip_every_fixture_at_several_payload_sizes() {
    for jpeg in SENDABLE {
        let image = JpegImage::parse(jpeg).unwrap();
        for max in [MIN_PAYLOAD_LIMIT, 200, 500, 1460, 100_000] {
            let frags = image.fragments(max).unwrap();
            let expected = frags.len();
            let frags: Vec<Fragment> = frags.collect();
            assert_eq!(frags.len(), expected, "size_hint at max {max}");
            assert!(frags.iter().all(|f| f.payload.len() <= max));
            let markers: Vec<bool> = frags.iter().map(|f| f.marker).collect();
            assert_eq!(markers.iter().filter(|&&m| m).count(), 1);
            assert_eq!(markers.last(), Some(&true));

            let mut a = FrameAssembler::new();
            let out = feed(&mut a, 90_000, &frags);
            assert_eq!(out.len(), 1, "max {max}");
            assert_same_image(&out[0].jpeg, jpeg);
            assert_eq!(out[0].timestamp, 90_000);
            assert_eq!(
                (out[0].width, out[0].height),
                (image.width(), image.height())
            );
            assert_eq!(a.pending_frames(), 0);
            assert_eq!(a.stats().frames_completed, 1);
        }
    }
    assert_eq!(fragments(FFMPEG_420_LARGE, 1460).len(), 6);
    assert_eq!(fragments(FFMPEG_420, 1460).len(), 1);
}

#[test]
fn rebuilt_file_is_make_headers_then_scan_then_eoi() {
    let image = JpegImage::parse(CJPEG_422).unwrap();
    let out = feed(&mut FrameAssembler::new(), 1, &fragments(CJPEG_422, 300));
    let jpeg = &out[0].jpeg;
    assert_eq!(jpeg.len(), tables::HEADERS_LEN + image.scan().len() + 2);
    // SOI, then DQT table 0 (luma) and DQT table 1 (chroma).
    assert_eq!(&jpeg[..7], &[0xff, 0xd8, 0xff, 0xdb, 0, 67, 0]);
    assert_eq!(&jpeg[7..71], &image.tables().luma);
    assert_eq!(&jpeg[71..76], &[0xff, 0xdb, 0, 67, 1]);
    assert_eq!(&jpeg[76..140], &image.tables().chroma);
    // SOF0: 8-bit, 48x64, components 0 (2x1, table 0), 1 and 2 (1x1, table 1).
    assert_eq!(
        &jpeg[140..159],
        &[0xff, 0xc0, 0, 17, 8, 0, 48, 0, 64, 3, 0, 0x21, 0, 1, 0x11, 1, 2, 0x11, 1]
    );
    // Four DHT segments, then SOS.
    assert_eq!(&jpeg[159..164], &[0xff, 0xc4, 0, 31, 0x00]);
    let sos = tables::HEADERS_LEN - 14;
    assert_eq!(
        &jpeg[sos..tables::HEADERS_LEN],
        &[0xff, 0xda, 0, 12, 3, 0, 0, 1, 0x11, 2, 0x11, 0, 63, 0]
    );
    assert_eq!(&jpeg[tables::HEADERS_LEN..jpeg.len() - 2], image.scan());
    assert_eq!(&jpeg[jpeg.len() - 2..], &[0xff, 0xd9]);
}

#[test]
fn restart_interval_travels_as_type_64_or_65_and_comes_back_as_dri() {
    let mut rng = XorShift(0x2435_2435_5eed_f00d);
    for (jpeg, rtp_type, interval) in [(CJPEG_422_RESTART, 64, 4), (CJPEG_420_RESTART, 65, 20)] {
        let image = JpegImage::parse(jpeg).unwrap();
        let frags = fragments(jpeg, 500);
        assert!(frags.len() > 1);
        for (i, f) in frags.iter().enumerate() {
            // Type, then the restart marker header straight after the main
            // header: the interval, F = L = 1 and count 0x3fff.
            assert_eq!(f.payload[4], rtp_type);
            assert_eq!(&f.payload[8..12], &[0, interval, 0xff, 0xff]);
            let p = Payload::parse(&f.payload).unwrap();
            assert_eq!(p.restart, Some(RestartHeader::whole_frame(interval.into())));
            // The quantization table header follows it in the first payload.
            let quant = (i == 0).then_some(&[0, 0, 0, 128][..]);
            assert_eq!(quant.map(|_| &f.payload[12..16]), quant);
        }
        for _ in 0..10 {
            let mut shuffled = frags.clone();
            rng.shuffle(&mut shuffled);
            let out = feed(&mut FrameAssembler::new(), 3000, &shuffled);
            assert_eq!(out.len(), 1);
            assert_same_image(&out[0].jpeg, jpeg);
            assert_eq!(
                restart_markers(&out[0].jpeg),
                restart_markers(image.scan()),
                "restart markers carried unchanged"
            );
        }
    }
}

#[test]
fn rebuilt_file_with_restart_interval_has_dri_before_sof() {
    let image = JpegImage::parse(CJPEG_422_RESTART).unwrap();
    let out = feed(
        &mut FrameAssembler::new(),
        1,
        &fragments(CJPEG_422_RESTART, 300),
    );
    let jpeg = &out[0].jpeg;
    let headers = tables::HEADERS_LEN + tables::DRI_SEGMENT_LEN;
    assert_eq!(jpeg.len(), headers + image.scan().len() + 2);
    // SOI and two DQT segments as without restarts, then MakeHeaders' DRI
    // segment, then SOF0.
    assert_eq!(&jpeg[..7], &[0xff, 0xd8, 0xff, 0xdb, 0, 67, 0]);
    assert_eq!(&jpeg[140..146], &[0xff, 0xdd, 0, 4, 0, 4]);
    assert_eq!(&jpeg[146..150], &[0xff, 0xc0, 0, 17]);
    assert_eq!(&jpeg[headers - 14..headers - 12], &[0xff, 0xda]);
    assert_eq!(&jpeg[headers..jpeg.len() - 2], image.scan());
}

#[test]
fn padding_fill_and_missing_huffman_tables_are_tolerated() {
    // Zero padding after EOI, as some cameras leave in their buffers.
    let mut padded = CJPEG_422.to_vec();
    padded.extend_from_slice(&[0; 64]);
    assert_eq!(JpegImage::parse(&padded), JpegImage::parse(CJPEG_422));
    // Fill bytes before a marker.
    let mut filled = CJPEG_422.to_vec();
    filled.splice(2..2, [0xff, 0xff]);
    assert_eq!(JpegImage::parse(&filled), JpegImage::parse(CJPEG_422));
    // MJPEG frames that leave out DHT imply the standard tables.
    let no_dht = without_segments(CJPEG_422, 0xc4);
    assert!(no_dht.len() < CJPEG_422.len() - 400);
    let frags = fragments(&no_dht, 300);
    assert_same_image(
        &feed(&mut FrameAssembler::new(), 0, &frags)[0].jpeg,
        CJPEG_422,
    );
}

/// `jpeg` with every header segment with marker `m` removed.
pub(super) fn without_segments(jpeg: &[u8], m: u8) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    let mut pos = 2;
    loop {
        let code = jpeg[pos + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        if code != m {
            out.extend_from_slice(&jpeg[pos..pos + 2 + len]);
        }
        pos += 2 + len;
        if code == 0xda {
            out.extend_from_slice(&jpeg[pos..]);
            return out;
        }
    }
}

/// Byte offset of the first header segment with marker `m` (at its 0xff).
pub(super) fn segment_at(jpeg: &[u8], m: u8) -> usize {
    let mut pos = 2;
    while jpeg[pos + 1] != m {
        pos += 2 + usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
    }
    pos
}

#[test]
fn jpegs_rfc_2435_cannot_carry_are_refused_with_the_reason() {
    assert_eq!(
        JpegImage::parse(CJPEG_OPTIMIZED),
        Err(JpegError::NonStandardHuffman)
    );
    assert_eq!(
        JpegImage::parse(FFMPEG_422_2X2),
        Err(JpegError::UnsupportedSampling([0x22, 0x12, 0x12]))
    );

    let sof = segment_at(CJPEG_422, 0xc0);
    let patched = |at: usize, bytes: &[u8]| {
        let mut v = CJPEG_422.to_vec();
        v[at..at + bytes.len()].copy_from_slice(bytes);
        JpegImage::parse(&v).map(|_| ())
    };
    assert_eq!(patched(sof + 1, &[0xc2]), Err(JpegError::NotBaseline(0xc2)));
    assert_eq!(patched(sof + 1, &[0xc1]), Err(JpegError::NotBaseline(0xc1)));
    assert_eq!(patched(sof + 4, &[12]), Err(JpegError::SamplePrecision(12)));
    assert_eq!(
        patched(sof + 5, &[0, 47]),
        Err(JpegError::BadDimensions {
            width: 64,
            height: 47
        })
    );
    assert_eq!(
        patched(sof + 7, &[0x08, 0x00]),
        Err(JpegError::BadDimensions {
            width: 2048,
            height: 48
        })
    );
    assert_eq!(
        patched(sof + 7, &[0, 0]),
        Err(JpegError::BadDimensions {
            width: 0,
            height: 48
        })
    );
    // Y 1x1: 4:4:4.
    assert_eq!(
        patched(sof + 11, &[0x11]),
        Err(JpegError::UnsupportedSampling([0x11, 0x11, 0x11]))
    );
    // Cr on table 0 while Cb is on table 1.
    assert_eq!(patched(sof + 18, &[0]), Err(JpegError::ChromaTablesDiffer));
    assert_eq!(
        patched(sof + 12, &[3]),
        Err(JpegError::MissingQuantTable(3))
    );
    let dqt = segment_at(CJPEG_422, 0xdb);
    assert_eq!(patched(dqt + 4, &[0x10]), Err(JpegError::WideQuantTable));
    assert_eq!(
        patched(dqt + 4, &[0x05]),
        Err(JpegError::BadTableId(0xdb, 5))
    );
    // Luma AC table slightly different from Annex K.
    let dht = segment_at(CJPEG_422, 0xc4);
    let ac = dht + 2 + 31;
    assert_eq!(
        patched(ac + 5 + 16 + 3, &[0x04]),
        Err(JpegError::NonStandardHuffman)
    );
    let sos = segment_at(CJPEG_422, 0xda);
    assert_eq!(patched(sos + 11, &[1]), Err(JpegError::UnsupportedScan));

    // A DRI segment whose length is not 4.
    let mut dri = CJPEG_422.to_vec();
    dri.splice(sof..sof, [0xff, 0xdd, 0, 5, 0, 8, 0]);
    assert_eq!(JpegImage::parse(&dri), Err(JpegError::BadSegment(0xdd)));
    // Grayscale: one component.
    let mut gray = CJPEG_422[..sof].to_vec();
    gray.extend_from_slice(&[0xff, 0xc0, 0, 11, 8, 0, 48, 0, 64, 1, 1, 0x11, 0]);
    gray.extend_from_slice(&CJPEG_422[sof + 19..]);
    assert_eq!(
        JpegImage::parse(&gray),
        Err(JpegError::UnsupportedComponents(1))
    );
    // Garbage after EOI, a second scan, a restart marker in a scan without a
    // restart interval, or before the scan.
    let mut trailing = CJPEG_422.to_vec();
    trailing.extend_from_slice(&[0, 0, 7]);
    assert_eq!(JpegImage::parse(&trailing), Err(JpegError::TrailingData));
    let eoi = CJPEG_422.len() - 2;
    let mut rst = CJPEG_422.to_vec();
    rst.splice(eoi..eoi, [0xff, 0xd0]);
    assert_eq!(
        JpegImage::parse(&rst),
        Err(JpegError::UnexpectedMarker(0xd0))
    );
    let mut rst_header = CJPEG_422.to_vec();
    rst_header.splice(sof..sof, [0xff, 0xd3]);
    assert_eq!(
        JpegImage::parse(&rst_header),
        Err(JpegError::UnexpectedMarker(0xd3))
    );
    let mut two_scans = CJPEG_422.to_vec();
    two_scans.splice(eoi..eoi, CJPEG_422[sos..sos + 14].iter().copied());
    assert_eq!(
        JpegImage::parse(&two_scans),
        Err(JpegError::UnexpectedMarker(0xda))
    );
    let mut empty = CJPEG_422[..sos + 14].to_vec();
    empty.extend_from_slice(&[0xff, 0xd9]);
    assert_eq!(JpegImage::parse(&empty), Err(JpegError::EmptyScan));
    assert_eq!(JpegImage::parse(b"GIF89a"), Err(JpegError::NotJpeg));
}

#[test]
fn restart_interval_in_the_headers_is_kept() {
    // A DRI segment anywhere before the scan, the last one counting; 0 turns
    // restarts off. (The scan has no restart markers, which only a decoder
    // would mind.)
    let sof = segment_at(CJPEG_422, 0xc0);
    let with_dri = |segments: &[[u8; 6]]| {
        let mut v = CJPEG_422.to_vec();
        v.splice(sof..sof, segments.iter().flatten().copied());
        JpegImage::parse(&v).map(|i| i.restart_interval())
    };
    assert_eq!(with_dri(&[[0xff, 0xdd, 0, 4, 0, 8]]), Ok(8));
    assert_eq!(with_dri(&[[0xff, 0xdd, 0, 4, 0xff, 0xff]]), Ok(0xffff));
    assert_eq!(with_dri(&[[0xff, 0xdd, 0, 4, 0, 0]]), Ok(0));
    assert_eq!(
        with_dri(&[[0xff, 0xdd, 0, 4, 0, 8], [0xff, 0xdd, 0, 4, 0, 0]]),
        Ok(0)
    );
    // Without DRI segment, the restart fixtures' markers are refused.
    assert_eq!(
        JpegImage::parse(&without_segments(CJPEG_422_RESTART, 0xdd)),
        Err(JpegError::UnexpectedMarker(0xd0))
    );
}

#[test]
fn payload_limit_below_the_first_fragment_is_refused() {
    for jpeg in [FFMPEG_420, CJPEG_422_RESTART] {
        assert_eq!(
            packetize(jpeg, MIN_PAYLOAD_LIMIT - 1).err(),
            Some(JpegError::MaxPayloadTooSmall(MIN_PAYLOAD_LIMIT - 1))
        );
    }
    // The limit leaves room for a restart marker header, which images
    // without a restart interval fill with scan.
    let frags = fragments(CJPEG_422_RESTART, MIN_PAYLOAD_LIMIT);
    assert_eq!(frags[0].payload.len(), MIN_PAYLOAD_LIMIT);
    assert_eq!(Payload::parse(&frags[0].payload).unwrap().data.len(), 1);
    let frags = fragments(FFMPEG_420, MIN_PAYLOAD_LIMIT);
    assert_eq!(frags[0].payload.len(), MIN_PAYLOAD_LIMIT);
    assert_eq!(
        Payload::parse(&frags[0].payload).unwrap().data.len(),
        1 + RESTART_HEADER_LEN
    );
}

#[test]
fn emit_next_reuses_one_buffer() {
    let mut frags = packetize(FFMPEG_420_LARGE, 1000).unwrap();
    let expected: Vec<Fragment> = frags.clone().collect();
    let mut buf = Vec::new();
    let mut i = 0;
    while let Some(marker) = frags.emit_next(&mut buf) {
        assert_eq!((&buf, marker), (&expected[i].payload, expected[i].marker));
        i += 1;
    }
    assert_eq!(i, expected.len());
    assert_eq!(frags.len(), 0);
}

#[test]
fn errors_read_well() {
    assert_eq!(
        JpegError::UnsupportedSampling([0x22, 0x12, 0x12]).to_string(),
        "sampling Y 2x2, Cb 1x2, Cr 1x2: RFC 2435 carries Y 2x1 (4:2:2) or Y 2x2 (4:2:0) with \
         chroma 1x1"
    );
    assert!(JpegError::NonStandardHuffman
        .to_string()
        .contains("standard"));
    assert_eq!(
        Rejected::Malformed(PayloadError::UnsupportedType(66)).to_string(),
        "malformed RTP/JPEG payload: type 66 is not supported (only 0, 1, 64 and 65)"
    );
}
