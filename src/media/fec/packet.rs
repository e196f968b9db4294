//! The wire form of a repair packet: the FEC header with its k-bit-terminated
//! mask ([`FecHeader`], [`MaskLen`]) and the whole datagram around it
//! ([`FecPacket`]), each with symmetric `parse`, `emit` and `buffer_len`.
//! Parsing checks every length before reading, so no input can panic it.

use super::{
    FecError, CSRC_COUNT_MASK, EXTENSION_BIT, FEC_RTP_HEADER_LEN, F_BIT, HEAD_LEN, K_BIT,
    MARKER_BIT, MAX_MASK_BITS, MIN_FEC_HEADER_LEN, PADDING_BIT, PAYLOAD_TYPE_MASK, R_BIT,
};
use crate::media::rtp::{RtpHeader, RtpPacket, MAX_RTP_PACKET_LEN};
use byteorder::{BigEndian, ByteOrder};

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
    pub(super) fn head(&self) -> [u8; HEAD_LEN] {
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
