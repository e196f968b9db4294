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
mod packet;

pub use decoder::{FecDecoder, FecStats, MAX_MEDIA_HISTORY, MAX_PENDING_FEC};
pub use packet::{FecHeader, FecPacket, MaskLen};

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
