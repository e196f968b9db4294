//! Packetizing real JPEG files, reassembling them, and which JPEG files can
//! and cannot be sent; shared helpers for the other test modules.
//!
//! The JPEG fixtures in tests/data/jpeg/ were made once by
//! tests/data/jpeg/make-fixtures.sh (ffmpeg and libjpeg-turbo's cjpeg), e.g.
//! `ffmpeg -f lavfi -i testsrc=size=64x48 -frames:v 1 -pix_fmt yuvj420p
//! -huffman default ffmpeg-64x48-420.jpg` and
//! `cjpeg -quality 75 -sample 2x1 64x48.ppm > cjpeg-64x48-422.jpg`.
//! "Decodes to the same pixels" is checked here without a decoder: the
//! rebuilt file must carry the original's scan bytes, quantization tables,
//! size and sampling unchanged, and use the standard Huffman tables the
//! original used; only the header layout differs. (Decoding the rebuilt
//! files with ffmpeg and djpeg, once, by hand, gave the original's pixels.)

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

/// The fixtures RFC 2435 can carry.
pub(super) const SENDABLE: [&[u8]; 4] = [FFMPEG_420, FFMPEG_420_LARGE, CJPEG_422, CJPEG_420_LARGE];

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
}

#[test]
fn libjpeg_quality_tables_are_make_tables() {
    // libjpeg scales Annex K the same way, so this checks the zig-zag order.
    for jpeg in [CJPEG_422, CJPEG_420_LARGE] {
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

    // A restart interval.
    let mut dri = CJPEG_422.to_vec();
    dri.splice(sof..sof, [0xff, 0xdd, 0, 4, 0, 8]);
    assert_eq!(JpegImage::parse(&dri), Err(JpegError::RestartInterval(8)));
    let mut dri0 = CJPEG_422.to_vec();
    dri0.splice(sof..sof, [0xff, 0xdd, 0, 4, 0, 0]);
    assert!(JpegImage::parse(&dri0).is_ok());
    // Grayscale: one component.
    let mut gray = CJPEG_422[..sof].to_vec();
    gray.extend_from_slice(&[0xff, 0xc0, 0, 11, 8, 0, 48, 0, 64, 1, 1, 0x11, 0]);
    gray.extend_from_slice(&CJPEG_422[sof + 19..]);
    assert_eq!(
        JpegImage::parse(&gray),
        Err(JpegError::UnsupportedComponents(1))
    );
    // Garbage after EOI, a second scan, a restart marker in the scan.
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
fn payload_limit_below_the_first_fragment_is_refused() {
    assert_eq!(
        packetize(FFMPEG_420, MIN_PAYLOAD_LIMIT - 1).err(),
        Some(JpegError::MaxPayloadTooSmall(MIN_PAYLOAD_LIMIT - 1))
    );
    let frags = fragments(FFMPEG_420, MIN_PAYLOAD_LIMIT);
    assert_eq!(frags[0].payload.len(), MIN_PAYLOAD_LIMIT);
    assert_eq!(Payload::parse(&frags[0].payload).unwrap().data.len(), 1);
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
        Rejected::Malformed(PayloadError::UnsupportedType(64)).to_string(),
        "malformed RTP/JPEG payload: type 64 (restart markers) is not supported"
    );
}
