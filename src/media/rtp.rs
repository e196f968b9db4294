//! RTP (RFC 3550) framing for a call's media, and the RTCP packets we need
//! (sender and receiver reports, SDES, BYE), with RTP and RTCP multiplexed on
//! one UDP port per stream as RFC 5761 allows: [`classify`] tells the two apart,
//! [`RtpPacket`] is a checked view of a received packet and [`RtpHeader`]
//! writes the ones we send, while [`RtcpCompound`] walks an RTCP datagram and
//! [`Rtcp`] parses and emits its packets. The payload formats (JPEG, Opus) sit
//! on top of this module; sequence-number and NTP helpers serve the jitter
//! buffer, the frame assembler and the statistics.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! |                           timestamp                           |
//! |                             SSRC                              |
//! |                 CSRC list (CC words, optional)                |
//! |   extension profile (if X)    |  extension length in words    |
//! |                 extension data (length words)                 |
//! |                            payload                            |
//! |                               |  padding (if P) ...   | count |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

mod rtcp;

pub use rtcp::{
    rtcp_type, Bye, Nack, ReceiverReport, ReportBlock, Rtcp, RtcpCompound, RtcpPacket, Sdes,
    SdesChunk, SdesItem, SdesItemKind, SenderReport, Tmmbr, FMT_NACK, FMT_TMMBR, MAX_NACK_FCI,
    MAX_RTCP_COUNT, MAX_SDES_TEXT_LEN, REPORT_BLOCK_LEN, RTCP_HEADER_LEN,
};

use byteorder::{BigEndian, ByteOrder};
use std::fmt;
use std::time::Duration;

/// The RTP version this code speaks (and the only one there is in use).
pub const RTP_VERSION: u8 = 2;
/// Size of the fixed RTP header, before any CSRC list or extension.
pub const RTP_HEADER_LEN: usize = 12;
/// Payload type of JPEG video: static in the RTP/AVP profile (RFC 3551).
pub const PT_JPEG: u8 = 26;
/// Payload type of Opus audio. Opus has no static type, so this is our fixed
/// pick from the dynamic range 96–127; it is never negotiated on the wire
/// because the INVITE already names the codec by our own codec code, and both
/// sides map that code to this number.
pub const PT_OPUS: u8 = 111;
/// Payload type of video retransmissions (RFC 4588 "rtx", `apt=26`): their
/// own type and SSRC, the original sequence number first in the payload.
pub const PT_RTX: u8 = 97;
/// Largest RTP packet we send: a UDP payload that fits a 1500-byte Ethernet
/// MTU over IPv4 (1500 − 20 bytes IP − 8 bytes UDP), so nothing is fragmented.
pub const MAX_RTP_PACKET_LEN: usize = 1500 - 20 - 8;
/// Largest payload in a packet emitted by [`RtpHeader`] (no CSRC, no extension).
pub const MAX_RTP_PAYLOAD_LEN: usize = MAX_RTP_PACKET_LEN - RTP_HEADER_LEN;
/// RTP timestamp rate of every video payload, JPEG included (RFC 3551).
pub const VIDEO_CLOCK_RATE: u32 = 90_000;
/// RTP timestamp rate of Opus, whatever the real sampling rate (RFC 7587).
pub const OPUS_CLOCK_RATE: u32 = super::audio::SAMPLE_RATE;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

const VERSION_SHIFT: u32 = 6;
const PADDING_BIT: u8 = 0x20;
const EXTENSION_BIT: u8 = 0x10;
const CSRC_COUNT_MASK: u8 = 0x0f;
const MARKER_BIT: u8 = 0x80;
const PAYLOAD_TYPE_MASK: u8 = 0x7f;

mod field {
    use std::ops::Range;
    /// V, P, X and CC.
    pub const FLAGS: usize = 0;
    /// M and PT.
    pub const MARKER_PT: usize = 1;
    pub const SEQUENCE: Range<usize> = 2..4;
    pub const TIMESTAMP: Range<usize> = 4..8;
    pub const SSRC: Range<usize> = 8..12;
    pub const CSRC_START: usize = 12;
    /// Within the extension header: the profile word, then the length in words.
    pub const EXT_PROFILE: Range<usize> = 0..2;
    pub const EXT_LENGTH: Range<usize> = 2..4;
    pub const EXT_HEADER_LEN: usize = 4;
}

/// Why bytes are not a valid RTP or RTCP packet. Every variant is the peer's
/// fault; no parser in this module panics on any input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtpError {
    /// The packet ends before a field its header promises (fixed header, CSRC
    /// list, header extension, RTCP body, SDES item, report block).
    Truncated,
    /// The version bits are not [`RTP_VERSION`].
    BadVersion(u8),
    /// The padding count is zero, larger than the bytes after the header, or
    /// (RTCP) not a multiple of four.
    BadPadding(u8),
    /// An RTCP packet is padded but is not the last of its compound packet.
    PaddingNotLast,
    /// An RTCP length field claims more bytes than the datagram has left.
    LengthPastEnd {
        /// Bytes the length field claims, header included.
        claimed: usize,
        /// Bytes left in the datagram.
        available: usize,
    },
    /// Bytes left in an RTCP packet after its last field.
    TrailingBytes(usize),
}

impl fmt::Display for RtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RtpError::Truncated => write!(f, "packet ends before a field its header promises"),
            RtpError::BadVersion(v) => {
                write!(f, "RTP version {v} is not supported (only {RTP_VERSION})")
            }
            RtpError::BadPadding(n) => write!(f, "padding count {n} does not fit the packet"),
            RtpError::PaddingNotLast => {
                write!(
                    f,
                    "padded RTCP packet is not the last in its compound packet"
                )
            }
            RtpError::LengthPastEnd { claimed, available } => write!(
                f,
                "RTCP length field claims {claimed} bytes but {available} are left"
            ),
            RtpError::TrailingBytes(n) => write!(f, "{n} bytes after the last RTCP field"),
        }
    }
}

impl std::error::Error for RtpError {}

/// What a datagram on a multiplexed media port is, by [`classify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An RTP packet: hand it to [`RtpPacket::new_checked`].
    Rtp,
    /// An RTCP compound packet: hand it to [`RtcpCompound::new`].
    Rtcp,
    /// Neither: shorter than two bytes or not version 2. Drop it.
    Unknown,
}

/// Tells RTP from RTCP on one port, by the rule of RFC 5761 section 4.
///
/// Both start with version 2 in the top two bits. The second byte of RTCP is
/// its packet type (SR 200, RR 201, SDES 202, BYE 203, and the other assigned
/// types in 192–223); for RTP it is the marker bit and the payload type. With
/// the marker bit masked off, RTCP types land in 64–95, a range RFC 5761 takes
/// away from RTP payload types for exactly this reason. So a masked second byte
/// in 64–95 means RTCP and anything else means RTP; our own payload types are
/// [`PT_JPEG`] (26) and [`PT_OPUS`] (111). Only these two bytes are looked at:
/// the parsers check the rest, and the caller checks the payload type is one
/// it expects.
pub fn classify(datagram: &[u8]) -> Kind {
    let (Some(&b0), Some(&b1)) = (datagram.first(), datagram.get(1)) else {
        return Kind::Unknown;
    };
    if b0 >> VERSION_SHIFT != RTP_VERSION {
        return Kind::Unknown;
    }
    match b1 & PAYLOAD_TYPE_MASK {
        64..=95 => Kind::Rtcp,
        _ => Kind::Rtp,
    }
}

/// Whether sequence number `a` is newer than `b`, by serial-number arithmetic
/// (RFC 1982): `a` is newer when it is less than half the number space ahead
/// of `b`, so 0 is newer than 65535. Numbers exactly half the space apart are
/// newer in neither direction.
pub fn seq_newer(a: u16, b: u16) -> bool {
    let d = seq_distance(b, a);
    d > 0
}

/// How far `to` is ahead of `from` (negative when behind), across wraparound:
/// `seq_distance(65535, 1) == 2`. Half the space apart gives `i16::MIN`.
pub fn seq_distance(from: u16, to: u16) -> i16 {
    to.wrapping_sub(from) as i16
}

/// The extended (64-bit, never wrapping) number of sequence number `seq`: the
/// one nearest to `reference`, the extended number of a recent packet
/// (typically the highest seen so far, starting with the first packet's
/// `seq as u64`). `None` when that would fall below zero, which only happens to
/// a packet reordered across a wrap at the very start of the stream; callers
/// treat it as late.
pub fn extend_seq(reference: u64, seq: u16) -> Option<u64> {
    let delta = seq_distance(reference as u16, seq);
    reference.checked_add_signed(i64::from(delta))
}

/// Signed difference `a - b` of two RTP timestamps across wraparound, for
/// interarrival jitter (RFC 3550 A.8) and frame spacing.
pub fn timestamp_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// The 64-bit NTP timestamp (32.32 fixed point seconds since 1900) of a wall
/// clock time given as time since the Unix epoch. The seconds wrap in 2036, as
/// NTP's era 0 does; RTCP only uses differences and the middle bits.
pub fn ntp_from_unix(since_epoch: Duration) -> u64 {
    let secs = since_epoch.as_secs().wrapping_add(NTP_UNIX_OFFSET_SECS) as u32;
    let frac = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
    (u64::from(secs) << 32) | frac
}

/// The middle 32 bits of an NTP timestamp (16.16 fixed point seconds): the
/// form a report block's LSR carries and round-trip arithmetic uses.
pub fn ntp_middle_32(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// A duration in the 16.16 fixed point seconds of DLSR, saturating at about
/// 18 hours.
pub fn duration_to_ntp_short(d: Duration) -> u32 {
    let units = d.as_nanos() * 65_536 / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// The duration of a 16.16 fixed point seconds value (DLSR, round-trip time).
pub fn ntp_short_to_duration(v: u32) -> Duration {
    Duration::from_nanos(u64::from(v) * 1_000_000_000 / 65_536)
}

/// The header extension of an RTP packet (RFC 3550 5.3.1). We never send one
/// but must step over a peer's, e.g. the one-byte extensions of RFC 8285.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    /// The profile-defined 16 bits (0xBEDE for RFC 8285 one-byte headers).
    pub profile: u16,
    /// The extension data, a whole number of 32-bit words.
    pub data: &'a [u8],
}

/// A checked view of one RTP packet: once [`RtpPacket::new_checked`] succeeds,
/// the CSRC list, the header extension and the padding have all been found to
/// fit, so no accessor can read out of bounds.
#[derive(Debug, Clone)]
pub struct RtpPacket<T: AsRef<[u8]>> {
    buffer: T,
    /// Where the payload starts: after the CSRC list and the extension.
    header_len: usize,
    /// Where the payload ends: before the padding.
    payload_end: usize,
}

impl<T: AsRef<[u8]>> RtpPacket<T> {
    /// Wraps `buffer`, which must hold exactly one RTP packet (one datagram).
    pub fn new_checked(buffer: T) -> Result<RtpPacket<T>, RtpError> {
        let b = buffer.as_ref();
        let flags = *b.first().ok_or(RtpError::Truncated)?;
        let version = flags >> VERSION_SHIFT;
        if version != RTP_VERSION {
            return Err(RtpError::BadVersion(version));
        }
        if b.len() < RTP_HEADER_LEN {
            return Err(RtpError::Truncated);
        }
        let mut header_len = field::CSRC_START + 4 * usize::from(flags & CSRC_COUNT_MASK);
        if header_len > b.len() {
            return Err(RtpError::Truncated);
        }
        if flags & EXTENSION_BIT != 0 {
            let ext = b
                .get(header_len..header_len + field::EXT_HEADER_LEN)
                .ok_or(RtpError::Truncated)?;
            let words = usize::from(BigEndian::read_u16(&ext[field::EXT_LENGTH]));
            header_len += field::EXT_HEADER_LEN + 4 * words;
            if header_len > b.len() {
                return Err(RtpError::Truncated);
            }
        }
        let mut payload_end = b.len();
        if flags & PADDING_BIT != 0 {
            // The count includes itself, so zero is as wrong as too many.
            let count = *b.last().ok_or(RtpError::Truncated)?;
            let pad = usize::from(count);
            if pad == 0 || pad > payload_end - header_len {
                return Err(RtpError::BadPadding(count));
            }
            payload_end -= pad;
        }
        Ok(RtpPacket {
            buffer,
            header_len,
            payload_end,
        })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Whether the padding bit is set (the padding is already left out of
    /// [`RtpPacket::payload`]).
    pub fn has_padding(&self) -> bool {
        self.bytes()[field::FLAGS] & PADDING_BIT != 0
    }

    /// Whether a header extension follows the CSRC list.
    pub fn has_extension(&self) -> bool {
        self.bytes()[field::FLAGS] & EXTENSION_BIT != 0
    }

    /// Number of CSRC identifiers (0–15).
    pub fn csrc_count(&self) -> usize {
        usize::from(self.bytes()[field::FLAGS] & CSRC_COUNT_MASK)
    }

    /// The marker bit: for video, the last packet of a frame.
    pub fn marker(&self) -> bool {
        self.bytes()[field::MARKER_PT] & MARKER_BIT != 0
    }

    /// The payload type (0–127).
    pub fn payload_type(&self) -> u8 {
        self.bytes()[field::MARKER_PT] & PAYLOAD_TYPE_MASK
    }

    /// The sequence number.
    pub fn sequence(&self) -> u16 {
        BigEndian::read_u16(&self.bytes()[field::SEQUENCE])
    }

    /// The RTP timestamp, in the payload's clock rate.
    pub fn timestamp(&self) -> u32 {
        BigEndian::read_u32(&self.bytes()[field::TIMESTAMP])
    }

    /// The synchronisation source.
    pub fn ssrc(&self) -> u32 {
        BigEndian::read_u32(&self.bytes()[field::SSRC])
    }

    fn csrc_end(&self) -> usize {
        field::CSRC_START + 4 * self.csrc_count()
    }

    /// The contributing sources, in order.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + '_ {
        self.bytes()[field::CSRC_START..self.csrc_end()]
            .chunks_exact(4)
            .map(BigEndian::read_u32)
    }

    /// The header extension, if the extension bit is set.
    pub fn extension(&self) -> Option<HeaderExtension<'_>> {
        if !self.has_extension() {
            return None;
        }
        let ext = &self.bytes()[self.csrc_end()..self.header_len];
        Some(HeaderExtension {
            profile: BigEndian::read_u16(&ext[field::EXT_PROFILE]),
            data: &ext[field::EXT_HEADER_LEN..],
        })
    }

    /// Bytes before the payload: fixed header, CSRC list and extension.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Bytes of padding after the payload, the count byte included.
    pub fn padding_len(&self) -> usize {
        self.bytes().len() - self.payload_end
    }

    /// The payload: after the CSRC list and extension, before the padding.
    pub fn payload(&self) -> &[u8] {
        &self.bytes()[self.header_len..self.payload_end]
    }

    /// The fields we emit, in owned form.
    pub fn header(&self) -> RtpHeader {
        RtpHeader {
            marker: self.marker(),
            payload_type: self.payload_type(),
            sequence: self.sequence(),
            timestamp: self.timestamp(),
            ssrc: self.ssrc(),
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<'a> RtpPacket<&'a [u8]> {
    /// The payload, borrowed for as long as the bytes rather than the view.
    pub fn into_payload(self) -> &'a [u8] {
        let bytes: &'a [u8] = self.buffer;
        &bytes[self.header_len..self.payload_end]
    }
}

/// The RTP header of a packet we send, in owned form. We emit no CSRC list,
/// no extension and no padding, so the header is always [`RTP_HEADER_LEN`]
/// bytes; parsing accepts all three and ignores them here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RtpHeader {
    /// The marker bit (for video: the last packet of a frame).
    pub marker: bool,
    /// The payload type, 0–127.
    pub payload_type: u8,
    /// The sequence number.
    pub sequence: u16,
    /// The RTP timestamp.
    pub timestamp: u32,
    /// The synchronisation source.
    pub ssrc: u32,
}

impl RtpHeader {
    /// Parses one RTP packet into its header and payload (CSRCs, extension
    /// and padding are checked and skipped).
    pub fn parse(datagram: &[u8]) -> Result<(RtpHeader, &[u8]), RtpError> {
        let packet = RtpPacket::new_checked(datagram)?;
        Ok((packet.header(), packet.into_payload()))
    }

    /// Bytes [`RtpHeader::emit`] writes for a payload of `payload_len` bytes.
    pub fn buffer_len(&self, payload_len: usize) -> usize {
        RTP_HEADER_LEN + payload_len
    }

    /// Writes the header into `buf[..RTP_HEADER_LEN]`, for a packetizer that
    /// builds its payload in place after it.
    ///
    /// # Panics
    /// If `buf` is shorter than [`RTP_HEADER_LEN`] or the payload type is
    /// above 127: both are bugs in the caller, not properties of any input.
    pub fn emit_header(&self, buf: &mut [u8]) {
        assert!(
            self.payload_type <= PAYLOAD_TYPE_MASK,
            "RTP payload type {} above 127",
            self.payload_type
        );
        let buf = &mut buf[..RTP_HEADER_LEN];
        buf[field::FLAGS] = RTP_VERSION << VERSION_SHIFT;
        buf[field::MARKER_PT] = if self.marker { MARKER_BIT } else { 0 } | self.payload_type;
        BigEndian::write_u16(&mut buf[field::SEQUENCE], self.sequence);
        BigEndian::write_u32(&mut buf[field::TIMESTAMP], self.timestamp);
        BigEndian::write_u32(&mut buf[field::SSRC], self.ssrc);
    }

    /// Writes the header and `payload` into the front of `buf` and returns the
    /// packet length, [`RtpHeader::buffer_len`].
    ///
    /// # Panics
    /// If `buf` is shorter than that or the payload type is above 127.
    pub fn emit(&self, payload: &[u8], buf: &mut [u8]) -> usize {
        let len = self.buffer_len(payload.len());
        assert!(buf.len() >= len, "RTP emit buffer smaller than buffer_len");
        self.emit_header(buf);
        buf[RTP_HEADER_LEN..len].copy_from_slice(payload);
        len
    }

    /// The whole packet as a new vector.
    pub fn to_bytes(&self, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0; self.buffer_len(payload.len())];
        self.emit(payload, &mut buf);
        buf
    }
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod malformed;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_by_version_and_second_byte() {
        assert_eq!(classify(&[]), Kind::Unknown);
        assert_eq!(classify(&[0x80]), Kind::Unknown);
        for pt in 200..=204u8 {
            assert_eq!(classify(&[0x80, pt, 0, 1]), Kind::Rtcp, "pt {pt}");
        }
        assert_eq!(classify(&[0x81, 192]), Kind::Rtcp);
        assert_eq!(classify(&[0x81, 223]), Kind::Rtcp);
        assert_eq!(classify(&[0x80, 224]), Kind::Rtp); // marker + PT 96
        assert_eq!(classify(&[0x80, 191]), Kind::Rtp); // marker + PT 63
        for pt in [PT_JPEG, PT_OPUS, 96, 127, 0, 63] {
            assert_eq!(classify(&[0x80, pt]), Kind::Rtp, "pt {pt}");
            assert_eq!(classify(&[0x80, pt | MARKER_BIT]), Kind::Rtp, "pt {pt} M");
        }
        // Version 0, 1 and 3: STUN, DTLS, garbage.
        for b0 in [0x00, 0x40, 0xc0, 0x16] {
            assert_eq!(classify(&[b0, PT_OPUS]), Kind::Unknown, "b0 {b0:#x}");
        }
    }

    #[test]
    fn sequence_numbers_wrap() {
        assert!(seq_newer(1, 0));
        assert!(!seq_newer(0, 1));
        assert!(!seq_newer(5, 5));
        assert!(seq_newer(0, 65535));
        assert!(seq_newer(10, 65530));
        assert!(!seq_newer(65530, 10));
        assert!(seq_newer(0x7fff, 0));
        // Exactly half apart: neither is newer.
        assert!(!seq_newer(0x8000, 0));
        assert!(!seq_newer(0, 0x8000));
        assert_eq!(seq_distance(65535, 1), 2);
        assert_eq!(seq_distance(1, 65535), -2);
        assert_eq!(seq_distance(0, 0x8000), i16::MIN);
        assert_eq!(timestamp_diff(5, u32::MAX), 6);
        assert_eq!(timestamp_diff(u32::MAX, 5), -6);
    }

    #[test]
    fn extended_sequence_follows_the_stream_across_wraps() {
        // Two full cycles and a bit, in order.
        let mut highest = 65_530u64;
        let mut seq = 65_530u16;
        for i in 0..140_000u64 {
            let ext = extend_seq(highest, seq).unwrap();
            assert_eq!(ext, 65_530 + i);
            highest = highest.max(ext);
            seq = seq.wrapping_add(1);
        }
        // Reordered across a wrap, in both directions.
        assert_eq!(extend_seq(65_536 * 2 + 3, 65_534), Some(65_536 + 65_534));
        assert_eq!(extend_seq(65_536 + 65_534, 3), Some(65_536 * 2 + 3));
        assert_eq!(extend_seq(100, 90), Some(90));
        // Reordered before the first packet of the stream, across a wrap.
        assert_eq!(extend_seq(5, 65_530), None);
        assert_eq!(extend_seq(u64::MAX - 1, 3), None);
    }

    #[test]
    fn ntp_conversions() {
        // 2021-01-01T00:00:00.5Z.
        let t = ntp_from_unix(Duration::new(1_609_459_200, 500_000_000));
        assert_eq!(t >> 32, 1_609_459_200 + NTP_UNIX_OFFSET_SECS);
        assert_eq!(t as u32, 0x8000_0000);
        assert_eq!(ntp_middle_32(0x1234_5678_9abc_def0), 0x5678_9abc);
        assert_eq!(
            duration_to_ntp_short(Duration::from_millis(5250)),
            0x0005_4000
        );
        assert_eq!(
            ntp_short_to_duration(0x0006_2000),
            Duration::from_millis(6125)
        );
        assert_eq!(
            duration_to_ntp_short(Duration::from_secs(1 << 20)),
            u32::MAX
        );
    }
}
