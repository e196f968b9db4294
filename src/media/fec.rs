//! Forward error correction for RTP video: the flexible FEC of RFC 8627
//! ("FlexFEC"), in its flexible-mask form (R=0, F=0) protecting one media
//! stream. The sender's [`FecEncoder`] XORs a group of media packets into one
//! repair packet sent on a stream of its own (its own SSRC, payload type
//! [`PT_FLEXFEC`]); the receiver's [`FecDecoder`] keeps the media packets that
//! arrived and rebuilds, byte for byte, the one packet of a group that did not,
//! so a lost packet costs no retransmission round trip. Retransmission (NACK)
//! and FEC work together: a packet repaired either way feeds the decoder and
//! may let a waiting repair packet recover another.
//!
//! A repair packet is an RTP packet whose CSRC list names the protected stream
//! (RFC 8627 section 4.1), followed by the FEC header and the repair payload:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X| CC=1  |M| PT (98)     |       sequence number         |
//! |                           timestamp                           |
//! |                     SSRC of the FEC stream                    |
//! |                  CSRC: SSRC of the protected stream           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |0|0|P|X|  CC   |M| PT recovery |        length recovery        |
//! |                          TS recovery                          |
//! |           SN base             |k|          Mask [0-14]        |
//! |k|                   Mask [15-45] (if the first k is 0)        |
//! |                   Mask [46-109] (if the second k is 0)        |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 repair payload (XOR of the packets            |
//! |                 after their 12-byte headers)                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Mask bit `i` (counted from the most significant bit after the first k)
//! says the packet with sequence number `SN base + i` is protected. A set k bit
//! ends the mask, so it is 15, 46 or 110 bits long.

mod decoder;

pub use decoder::{FecDecoder, FecStats, MAX_MEDIA_HISTORY, MAX_PENDING_FEC};

use super::rtp::{RtpError, RtpHeader, RtpPacket, MAX_RTP_PACKET_LEN, RTP_HEADER_LEN};
use byteorder::{BigEndian, ByteOrder};
use std::fmt;

/// Payload type of the FlexFEC repair stream: our fixed pick from the dynamic
/// range (RFC 8627 names no static one), announced as `flexfec/90000`.
pub const PT_FLEXFEC: u8 = 98;
/// Size of a repair packet's RTP header: the fixed header and one CSRC, the
/// SSRC of the protected stream.
pub const FEC_RTP_HEADER_LEN: usize = RTP_HEADER_LEN + 4;
/// Size of the FEC header with the shortest (15-bit) mask; longer masks add
/// 4 or 12 bytes ([`MaskLen::header_len`]).
pub const MIN_FEC_HEADER_LEN: usize = 12;
/// Most media packets one repair packet can reach: the longest mask, 110 bits,
/// so the highest protected sequence number is at most SN base + 109.
pub const MAX_MASK_BITS: usize = 110;
/// Longest media packet whose repair packet still fits [`MAX_RTP_PACKET_LEN`]
/// whatever the mask: the repair packet is the longest protected packet plus
/// its 4-byte CSRC and a FEC header of up to 24 bytes, less the 12-byte media
/// header it does not repeat (1444 bytes).
pub const MAX_PROTECTED_PACKET_LEN: usize =
    MAX_RTP_PACKET_LEN - (FEC_RTP_HEADER_LEN + MaskLen::Bits110.header_len() - RTP_HEADER_LEN);

/// Bytes of a packet's FEC bit string that stand for its RTP header: the first
/// two header bytes, the length field and the timestamp (RFC 8627 6.2).
const HEAD_LEN: usize = 8;
const R_BIT: u8 = 0x80;
const F_BIT: u8 = 0x40;
const K_BIT: u8 = 0x80;
const PADDING_BIT: u8 = 0x20;
const EXTENSION_BIT: u8 = 0x10;
const CSRC_COUNT_MASK: u8 = 0x0f;
const MARKER_BIT: u8 = 0x80;
const PAYLOAD_TYPE_MASK: u8 = 0x7f;
const VERSION_2: u8 = 0x80;

mod field {
    use std::ops::Range;
    /// R, F, and the P, X and CC recovery bits.
    pub const FLAGS: usize = 0;
    /// M and PT recovery.
    pub const MARKER_PT: usize = 1;
    pub const LENGTH_RECOVERY: Range<usize> = 2..4;
    pub const TS_RECOVERY: Range<usize> = 4..8;
    pub const SN_BASE: Range<usize> = 8..10;
    /// k and mask bits 0–14.
    pub const MASK_0: Range<usize> = 10..12;
    /// k and mask bits 15–45.
    pub const MASK_1: Range<usize> = 12..16;
    /// Mask bits 46–109.
    pub const MASK_2: Range<usize> = 16..24;
    /// In the repair packet's RTP header: the first CSRC.
    pub const PROTECTED_SSRC: Range<usize> = 12..16;
}

/// Why a repair packet cannot be used or built. The first group is the peer's
/// fault (bytes from the network); the second is the caller's (media handed to
/// [`FecEncoder::protect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FecError {
    /// The repair packet is not a valid RTP packet.
    Rtp(RtpError),
    /// The repair packet is longer than [`MAX_RTP_PACKET_LEN`], more than any
    /// sender of ours writes and more than the decoder will hold.
    TooLong(usize),
    /// The repair packet's CSRC count is not 1: 0 names no protected stream,
    /// more protect several streams at once, which this module does not do.
    ProtectedSsrcCount(u8),
    /// The FEC header ends before its mask does.
    Truncated,
    /// R=1: a retransmission in the FEC stream (RFC 8627 4.2.2.3), not used.
    Retransmission,
    /// R=0, F=1: the fixed L×D layout (RFC 8627 4.2.2.2), not used.
    FixedLayout,
    /// The mask protects no packet.
    EmptyMask,
    /// [`FecEncoder::protect`] was given no packets.
    NoMedia,
    /// A packet given to [`FecEncoder::protect`] is not a valid RTP packet.
    BadMedia(RtpError),
    /// The packets given to [`FecEncoder::protect`] are of different streams.
    MixedSsrc,
    /// Two packets given to [`FecEncoder::protect`] share a sequence number.
    DuplicateSequence(u16),
    /// The packets given to [`FecEncoder::protect`] span more sequence numbers
    /// than the longest mask reaches ([`MAX_MASK_BITS`]).
    OutOfReach,
}

impl fmt::Display for FecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FecError::Rtp(e) => write!(f, "FEC packet: {e}"),
            FecError::TooLong(n) => {
                write!(f, "FEC packet of {n} bytes, above {MAX_RTP_PACKET_LEN}")
            }
            FecError::ProtectedSsrcCount(n) => {
                write!(f, "FEC packet protects {n} streams, not one")
            }
            FecError::Truncated => write!(f, "FEC header ends before its mask"),
            FecError::Retransmission => write!(f, "FEC retransmission (R=1) not supported"),
            FecError::FixedLayout => write!(f, "fixed FEC layout (F=1) not supported"),
            FecError::EmptyMask => write!(f, "FEC mask protects no packet"),
            FecError::NoMedia => write!(f, "no media packets to protect"),
            FecError::BadMedia(e) => write!(f, "media packet to protect: {e}"),
            FecError::MixedSsrc => write!(f, "media packets to protect are of several streams"),
            FecError::DuplicateSequence(s) => {
                write!(f, "sequence number {s} given twice to protect")
            }
            FecError::OutOfReach => write!(
                f,
                "media packets span more than {MAX_MASK_BITS} sequence numbers"
            ),
        }
    }
}

impl std::error::Error for FecError {}

/// How long a FEC header's mask is: each k bit that is 0 adds a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MaskLen {
    /// One k bit, set: 15 mask bits, a 12-byte FEC header.
    Bits15,
    /// Two k bits, the second set: 46 mask bits, 16 bytes.
    Bits46,
    /// Both k bits clear: 110 mask bits, 24 bytes.
    Bits110,
}

impl MaskLen {
    /// Number of mask bits, the packets after SN base it can reach.
    pub const fn bits(self) -> usize {
        match self {
            MaskLen::Bits15 => 15,
            MaskLen::Bits46 => 46,
            MaskLen::Bits110 => MAX_MASK_BITS,
        }
    }

    /// Size of a FEC header with this mask.
    pub const fn header_len(self) -> usize {
        match self {
            MaskLen::Bits15 => MIN_FEC_HEADER_LEN,
            MaskLen::Bits46 => MIN_FEC_HEADER_LEN + 4,
            MaskLen::Bits110 => MIN_FEC_HEADER_LEN + 12,
        }
    }

    /// The shortest mask that reaches `offset` packets after SN base.
    pub fn shortest_for(offset: usize) -> Option<MaskLen> {
        [MaskLen::Bits15, MaskLen::Bits46, MaskLen::Bits110]
            .into_iter()
            .find(|m| offset < m.bits())
    }
}

/// The FEC header of a flexible-mask repair packet (RFC 8627 4.2.2.1), in
/// owned form. The recovery fields are the XOR of the protected packets'
/// fields; the mask is a set of offsets from `sn_base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FecHeader {
    /// P recovery: XOR of the padding bits.
    pub padding_recovery: bool,
    /// X recovery: XOR of the extension bits.
    pub extension_recovery: bool,
    /// CC recovery: XOR of the CSRC counts (0–15).
    pub csrc_count_recovery: u8,
    /// M recovery: XOR of the marker bits.
    pub marker_recovery: bool,
    /// PT recovery: XOR of the payload types (0–127).
    pub payload_type_recovery: u8,
    /// XOR of the packet lengths less their 12-byte fixed headers.
    pub length_recovery: u16,
    /// XOR of the timestamps.
    pub timestamp_recovery: u32,
    /// Sequence number of mask bit 0.
    pub sn_base: u16,
    /// Bit `i` set: packet `sn_base + i` is protected. Only the low
    /// `mask_len.bits()` bits are meaningful.
    pub mask: u128,
    /// The wire form of the mask; the encoder picks the shortest that fits.
    pub mask_len: MaskLen,
}

impl FecHeader {
    /// Parses the FEC header at the front of a repair packet's RTP payload
    /// and returns it with its length; the repair payload follows.
    pub fn parse(bytes: &[u8]) -> Result<(FecHeader, usize), FecError> {
        if bytes.len() < MIN_FEC_HEADER_LEN {
            return Err(FecError::Truncated);
        }
        let flags = bytes[field::FLAGS];
        if flags & R_BIT != 0 {
            return Err(FecError::Retransmission);
        }
        if flags & F_BIT != 0 {
            return Err(FecError::FixedLayout);
        }
        let word0 = BigEndian::read_u16(&bytes[field::MASK_0]);
        let mut mask = 0u128;
        put_bits(&mut mask, 0, 15, u128::from(word0 & 0x7fff));
        let mask_len = if word0 & u16::from(K_BIT) << 8 != 0 {
            MaskLen::Bits15
        } else {
            let word1 = bytes.get(field::MASK_1).ok_or(FecError::Truncated)?;
            let word1 = BigEndian::read_u32(word1);
            put_bits(&mut mask, 15, 31, u128::from(word1 & 0x7fff_ffff));
            if word1 & u32::from(K_BIT) << 24 != 0 {
                MaskLen::Bits46
            } else {
                let word2 = bytes.get(field::MASK_2).ok_or(FecError::Truncated)?;
                put_bits(&mut mask, 46, 64, u128::from(BigEndian::read_u64(word2)));
                MaskLen::Bits110
            }
        };
        if mask == 0 {
            return Err(FecError::EmptyMask);
        }
        let header = FecHeader {
            padding_recovery: flags & PADDING_BIT != 0,
            extension_recovery: flags & EXTENSION_BIT != 0,
            csrc_count_recovery: flags & CSRC_COUNT_MASK,
            marker_recovery: bytes[field::MARKER_PT] & MARKER_BIT != 0,
            payload_type_recovery: bytes[field::MARKER_PT] & PAYLOAD_TYPE_MASK,
            length_recovery: BigEndian::read_u16(&bytes[field::LENGTH_RECOVERY]),
            timestamp_recovery: BigEndian::read_u32(&bytes[field::TS_RECOVERY]),
            sn_base: BigEndian::read_u16(&bytes[field::SN_BASE]),
            mask,
            mask_len,
        };
        Ok((header, mask_len.header_len()))
    }

    /// Bytes [`FecHeader::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        self.mask_len.header_len()
    }

    /// Writes the header into the front of `buf` and returns its length.
    ///
    /// # Panics
    /// If `buf` is shorter than [`FecHeader::buffer_len`], or a field is out
    /// of its range (CC above 15, PT above 127, mask bits beyond `mask_len`):
    /// all bugs in the caller.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        assert!(self.csrc_count_recovery <= CSRC_COUNT_MASK, "CC above 15");
        assert!(
            self.payload_type_recovery <= PAYLOAD_TYPE_MASK,
            "PT above 127"
        );
        assert!(
            self.mask >> self.mask_len.bits() == 0,
            "mask bits beyond its length"
        );
        let len = self.buffer_len();
        let buf = &mut buf[..len];
        buf[field::FLAGS] = flag(self.padding_recovery, PADDING_BIT)
            | flag(self.extension_recovery, EXTENSION_BIT)
            | self.csrc_count_recovery;
        buf[field::MARKER_PT] = flag(self.marker_recovery, MARKER_BIT) | self.payload_type_recovery;
        BigEndian::write_u16(&mut buf[field::LENGTH_RECOVERY], self.length_recovery);
        BigEndian::write_u32(&mut buf[field::TS_RECOVERY], self.timestamp_recovery);
        BigEndian::write_u16(&mut buf[field::SN_BASE], self.sn_base);
        let last = |m: MaskLen| self.mask_len == m;
        let word0 = get_bits(self.mask, 0, 15) as u16;
        let k0 = if last(MaskLen::Bits15) { 0x8000 } else { 0 };
        BigEndian::write_u16(&mut buf[field::MASK_0], k0 | word0);
        if !last(MaskLen::Bits15) {
            let word1 = get_bits(self.mask, 15, 31) as u32;
            let k1 = if last(MaskLen::Bits46) {
                0x8000_0000
            } else {
                0
            };
            BigEndian::write_u32(&mut buf[field::MASK_1], k1 | word1);
        }
        if last(MaskLen::Bits110) {
            let word2 = get_bits(self.mask, 46, 64) as u64;
            BigEndian::write_u64(&mut buf[field::MASK_2], word2);
        }
        len
    }

    /// The protected sequence numbers, lowest offset first.
    pub fn protected(&self) -> impl Iterator<Item = u16> + '_ {
        (0..self.mask_len.bits())
            .filter(|&i| self.mask >> i & 1 != 0)
            .map(|i| self.sn_base.wrapping_add(i as u16))
    }

    /// The recovery fields as the first bytes of a FEC bit string, R and F
    /// (where a packet has its version) zero.
    fn head(&self) -> [u8; HEAD_LEN] {
        let mut head = [0; HEAD_LEN];
        head[0] = flag(self.padding_recovery, PADDING_BIT)
            | flag(self.extension_recovery, EXTENSION_BIT)
            | self.csrc_count_recovery;
        head[1] = flag(self.marker_recovery, MARKER_BIT) | self.payload_type_recovery;
        BigEndian::write_u16(&mut head[2..4], self.length_recovery);
        BigEndian::write_u32(&mut head[4..8], self.timestamp_recovery);
        head
    }
}

fn flag(on: bool, bit: u8) -> u8 {
    if on {
        bit
    } else {
        0
    }
}

/// Stores a wire word of `n` mask bits, most significant first, as mask
/// offsets `from..from + n`.
fn put_bits(mask: &mut u128, from: usize, n: usize, word: u128) {
    for i in 0..n {
        if word >> (n - 1 - i) & 1 != 0 {
            *mask |= 1 << (from + i);
        }
    }
}

/// The wire word of mask offsets `from..from + n`, most significant first.
fn get_bits(mask: u128, from: usize, n: usize) -> u128 {
    (0..n).fold(0, |word, i| word << 1 | (mask >> (from + i) & 1))
}

/// The first bytes of a media packet's FEC bit string (RFC 8627 6.2): the
/// first two header bytes, the packet length less the fixed header, and the
/// timestamp. The rest of the bit string is the packet after byte 12.
///
/// `packet` must be a checked RTP packet no longer than `u16::MAX + 12`.
fn bit_string_head(packet: &[u8]) -> [u8; HEAD_LEN] {
    let mut head = [0; HEAD_LEN];
    head[..2].copy_from_slice(&packet[..2]);
    let length = u16::try_from(packet.len() - RTP_HEADER_LEN).unwrap_or(u16::MAX);
    BigEndian::write_u16(&mut head[2..4], length);
    head[4..8].copy_from_slice(&packet[4..8]);
    head
}

fn xor_into(acc: &mut [u8], bytes: &[u8]) {
    for (a, b) in acc.iter_mut().zip(bytes) {
        *a ^= b;
    }
}

/// A repair packet, the whole datagram, in owned form (its repair payload
/// borrowed). Parsing checks the RTP framing, the single protected SSRC and
/// the FEC header; it does not check the payload type, which the caller used
/// to route the datagram here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FecPacket<'a> {
    /// The RTP header of the repair packet itself (FEC stream SSRC, its own
    /// sequence numbers).
    pub rtp: RtpHeader,
    /// The SSRC of the protected media stream, the repair packet's CSRC.
    pub protected_ssrc: u32,
    /// The FEC header.
    pub header: FecHeader,
    /// The XOR of the protected packets after their fixed headers, as long as
    /// the longest of them.
    pub repair_payload: &'a [u8],
}

impl<'a> FecPacket<'a> {
    /// Parses one repair datagram. A padded repair packet or one with a header
    /// extension is accepted; both are left out of the result.
    pub fn parse(datagram: &'a [u8]) -> Result<FecPacket<'a>, FecError> {
        if datagram.len() > MAX_RTP_PACKET_LEN {
            return Err(FecError::TooLong(datagram.len()));
        }
        let packet = RtpPacket::new_checked(datagram).map_err(FecError::Rtp)?;
        if packet.csrc_count() != 1 {
            return Err(FecError::ProtectedSsrcCount(packet.csrc_count() as u8));
        }
        // Checked by new_checked: CC=1 means the CSRC is within the header.
        let protected_ssrc = BigEndian::read_u32(&datagram[field::PROTECTED_SSRC]);
        let rtp = packet.header();
        let payload = packet.into_payload();
        let (header, header_len) = FecHeader::parse(payload)?;
        Ok(FecPacket {
            rtp,
            protected_ssrc,
            header,
            repair_payload: &payload[header_len..],
        })
    }

    /// Bytes [`FecPacket::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        FEC_RTP_HEADER_LEN + self.header.buffer_len() + self.repair_payload.len()
    }

    /// Writes the datagram into the front of `buf` and returns its length.
    ///
    /// # Panics
    /// If `buf` is shorter than [`FecPacket::buffer_len`] or a field is out of
    /// range ([`RtpHeader::emit_header`], [`FecHeader::emit`]).
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let len = self.buffer_len();
        assert!(buf.len() >= len, "FEC emit buffer smaller than buffer_len");
        self.rtp.emit_header(buf);
        buf[0] |= 1; // CC=1: the CSRC that follows.
        BigEndian::write_u32(&mut buf[field::PROTECTED_SSRC], self.protected_ssrc);
        let at = FEC_RTP_HEADER_LEN + self.header.emit(&mut buf[FEC_RTP_HEADER_LEN..]);
        buf[at..len].copy_from_slice(self.repair_payload);
        len
    }

    /// The datagram as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = vec![0; self.buffer_len()];
        self.emit(&mut buf);
        buf
    }
}

/// Builds FEC repair packets over groups of media packets the caller chooses
/// (for example every frame, or every N packets), numbering them as one RTP
/// stream of its own.
#[derive(Debug, Clone)]
pub struct FecEncoder {
    fec_ssrc: u32,
    next_seq: u16,
}

impl FecEncoder {
    /// An encoder for the FEC stream `fec_ssrc`, whose first repair packet
    /// gets sequence number `first_seq`.
    pub fn new(fec_ssrc: u32, first_seq: u16) -> Self {
        FecEncoder {
            fec_ssrc,
            next_seq: first_seq,
        }
    }

    /// One repair packet (the complete datagram: RTP header with
    /// [`PT_FLEXFEC`], `fec_ssrc`, the next sequence number of the FEC stream
    /// and `timestamp`, the protected SSRC as its CSRC, FEC header, repair
    /// payload) protecting `media`: complete RTP packets of one SSRC, in any
    /// order, whose sequence numbers lie within [`MAX_MASK_BITS`] of the
    /// lowest. Errors when `media` is empty, a packet is not valid RTP, the
    /// SSRCs differ, a sequence number repeats, the span is out of reach, or
    /// the result would exceed [`MAX_RTP_PACKET_LEN`] (it cannot for packets
    /// up to [`MAX_PROTECTED_PACKET_LEN`]). The sequence number is used only
    /// when a packet is returned.
    pub fn protect(&mut self, media: &[&[u8]], timestamp: u32) -> Result<Vec<u8>, FecError> {
        let mut ssrc = None;
        let mut seqs = Vec::with_capacity(media.len());
        for &packet in media {
            let view = RtpPacket::new_checked(packet).map_err(FecError::BadMedia)?;
            if *ssrc.get_or_insert(view.ssrc()) != view.ssrc() {
                return Err(FecError::MixedSsrc);
            }
            if packet.len() > MAX_RTP_PACKET_LEN {
                return Err(FecError::TooLong(packet.len()));
            }
            seqs.push(view.sequence());
        }
        let protected_ssrc = ssrc.ok_or(FecError::NoMedia)?;
        let mut sorted = seqs.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(FecError::DuplicateSequence(w[0]));
        }
        // The base is the packet every other one is less than the reach
        // ahead of, across the wrap from 65535 to 0.
        let within = |base: u16| {
            seqs.iter()
                .all(|&s| usize::from(s.wrapping_sub(base)) < MAX_MASK_BITS)
        };
        let sn_base = seqs
            .iter()
            .copied()
            .find(|&b| within(b))
            .ok_or(FecError::OutOfReach)?;
        let mut mask = 0u128;
        let mut head = [0u8; HEAD_LEN];
        let longest = media.iter().map(|p| p.len()).max().unwrap_or(0);
        let mut repair = vec![0u8; longest - RTP_HEADER_LEN];
        for (&packet, &seq) in media.iter().zip(&seqs) {
            mask |= 1 << seq.wrapping_sub(sn_base);
            xor_into(&mut head, &bit_string_head(packet));
            xor_into(&mut repair, &packet[RTP_HEADER_LEN..]);
        }
        let span = seqs
            .iter()
            .map(|s| usize::from(s.wrapping_sub(sn_base)))
            .max()
            .unwrap_or(0);
        let mask_len = MaskLen::shortest_for(span).ok_or(FecError::OutOfReach)?;
        let header = FecHeader {
            padding_recovery: head[0] & PADDING_BIT != 0,
            extension_recovery: head[0] & EXTENSION_BIT != 0,
            csrc_count_recovery: head[0] & CSRC_COUNT_MASK,
            marker_recovery: head[1] & MARKER_BIT != 0,
            payload_type_recovery: head[1] & PAYLOAD_TYPE_MASK,
            length_recovery: BigEndian::read_u16(&head[2..4]),
            timestamp_recovery: BigEndian::read_u32(&head[4..8]),
            sn_base,
            mask,
            mask_len,
        };
        let packet = FecPacket {
            rtp: RtpHeader {
                marker: false,
                payload_type: PT_FLEXFEC,
                sequence: self.next_seq,
                timestamp,
                ssrc: self.fec_ssrc,
            },
            protected_ssrc,
            header,
            repair_payload: &repair,
        };
        let len = packet.buffer_len();
        if len > MAX_RTP_PACKET_LEN {
            return Err(FecError::TooLong(len));
        }
        self.next_seq = self.next_seq.wrapping_add(1);
        Ok(packet.to_bytes())
    }
}

/// Rebuilds the one missing packet of a repair packet's group from the repair
/// packet and the group's other packets (`present`, complete RTP packets),
/// giving it sequence number `seq` and SSRC `ssrc`. `None` when the result is
/// inconsistent: a present packet longer than the repair payload, a length
/// past it, or bytes that are not a valid RTP packet.
fn recover(
    header: &FecHeader,
    repair_payload: &[u8],
    present: &[&[u8]],
    seq: u16,
    ssrc: u32,
) -> Option<Vec<u8>> {
    let mut head = header.head();
    let mut payload = repair_payload.to_vec();
    for &packet in present {
        let rest = packet.get(RTP_HEADER_LEN..)?;
        if rest.len() > payload.len() {
            return None;
        }
        xor_into(&mut head, &bit_string_head(packet));
        xor_into(&mut payload, rest);
    }
    let length = usize::from(BigEndian::read_u16(&head[2..4]));
    let body = payload.get(..length)?;
    let mut packet = Vec::with_capacity(RTP_HEADER_LEN + length);
    packet.push(VERSION_2 | (head[0] & !(R_BIT | F_BIT)));
    packet.push(head[1]);
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&head[4..8]);
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend_from_slice(body);
    RtpPacket::new_checked(&packet[..]).ok()?;
    Some(packet)
}

#[cfg(test)]
mod malformed;
#[cfg(test)]
mod tests;
