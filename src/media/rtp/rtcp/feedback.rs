//! Transport-layer feedback (RFC 4585 section 6.2, packet type 205): the
//! receiver's requests to the sender. Two kinds are used: the generic NACK
//! (FMT 1), which names lost packets so the sender retransmits them (RFC
//! 4588), and TMMBR (FMT 3, RFC 5104 section 4.2.1), the highest bitrate the
//! receiver asks the sender to keep to, which carries the receiver's estimate
//! of what the path takes.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|   FMT   |     PT=205    |          length               |
//! |                  SSRC of packet sender                        |
//! |                  SSRC of media source                         |
//! :            Feedback Control Information (FCI)                 :
//! NACK FCI, repeated:           |            PID                |             BLP               |
//! TMMBR FCI, repeated:          |                 SSRC                                          |
//!                               | MxTBR Exp |  MxTBR Mantissa (17 bits)         |Overhead(9 bits) |
//! ```

use super::{Reader, Writer};
use crate::media::rtp::RtpError;

/// FMT of the generic NACK.
pub const FMT_NACK: u8 = 1;
/// FMT of TMMBR.
pub const FMT_TMMBR: u8 = 3;
/// Bytes of the two SSRCs every feedback packet starts with.
pub const FEEDBACK_COMMON_LEN: usize = 8;
/// Bytes of one NACK FCI entry (PID and BLP).
pub const NACK_FCI_LEN: usize = 4;
/// Bytes of one TMMBR FCI entry.
pub const TMMBR_FCI_LEN: usize = 8;
/// Most sequence numbers one NACK packet we emit names: 64 FCI entries at
/// most (each covers up to 17), so a NACK stays well inside a datagram.
pub const MAX_NACK_FCI: usize = 64;

/// A generic NACK: these packets of `media_ssrc` did not arrive. Kept as
/// its FCI entries, as on the wire, so parsing and emitting are exact
/// inverses; [`Nack::from_lost`] builds one and [`Nack::lost`] reads one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    /// Who asks.
    pub sender_ssrc: u32,
    /// Whose packets are missing.
    pub media_ssrc: u32,
    /// The FCI entries: a lost packet (PID) and a bitmask of the 16 after
    /// it that are lost too (BLP, bit i for PID + i + 1).
    pub entries: Vec<(u16, u16)>,
}

/// TMMBR: the receiver asks `media_ssrc` to send at most the entry's
/// bitrate (RFC 5104 4.2.1.1). Kept as on the wire: exponent, mantissa and
/// overhead; [`Tmmbr::new`] and [`Tmmbr::bitrate`] convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tmmbr {
    /// Who asks.
    pub sender_ssrc: u32,
    /// The source asked to keep to the bitrate (the first FCI entry's SSRC).
    pub media_ssrc: u32,
    /// MxTBR exponent (6 bits).
    pub exponent: u8,
    /// MxTBR mantissa (17 bits).
    pub mantissa: u32,
    /// The per-packet overhead in bytes the figure assumes (9 bits).
    pub overhead: u16,
}

/// Largest mantissa of a TMMBR bitrate (17 bits).
const MANTISSA_MAX: u64 = (1 << 17) - 1;
/// Largest exponent of a TMMBR bitrate (6 bits).
const EXPONENT_MAX: u8 = 63;
/// Largest overhead (9 bits).
const OVERHEAD_MAX: u16 = (1 << 9) - 1;

impl Nack {
    /// A NACK naming `lost` (in any order; neighbours within 16 share an entry).
    pub fn from_lost(sender_ssrc: u32, media_ssrc: u32, lost: &[u16]) -> Nack {
        let mut entries: Vec<(u16, u16)> = Vec::new();
        for &seq in lost {
            if let Some((pid, blp)) = entries.last_mut() {
                let d = seq.wrapping_sub(*pid);
                if (1..=16).contains(&d) {
                    *blp |= 1 << (d - 1);
                    continue;
                }
            }
            entries.push((seq, 0));
        }
        Nack {
            sender_ssrc,
            media_ssrc,
            entries,
        }
    }

    /// The sequence numbers the entries name, in order.
    pub fn lost(&self) -> Vec<u16> {
        let mut out = Vec::new();
        for &(pid, blp) in &self.entries {
            out.push(pid);
            for bit in 0..16u16 {
                if blp & (1 << bit) != 0 {
                    out.push(pid.wrapping_add(bit + 1));
                }
            }
        }
        out
    }

    pub(super) fn body_len(&self) -> usize {
        FEEDBACK_COMMON_LEN + NACK_FCI_LEN * self.entries.len()
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Nack, RtpError> {
        let sender_ssrc = r.u32()?;
        let media_ssrc = r.u32()?;
        if r.is_empty() {
            // RFC 4585 6.1: the FCI holds at least one entry.
            return Err(RtpError::Truncated);
        }
        let mut entries = Vec::new();
        while !r.is_empty() {
            let entry = r.u32()?;
            entries.push(((entry >> 16) as u16, entry as u16));
        }
        Ok(Nack {
            sender_ssrc,
            media_ssrc,
            entries,
        })
    }

    pub(super) fn write(&self, w: &mut Writer<'_>) {
        w.u32(self.sender_ssrc);
        w.u32(self.media_ssrc);
        for &(pid, blp) in &self.entries {
            w.u32(u32::from(pid) << 16 | u32::from(blp));
        }
    }
}

impl Tmmbr {
    /// A request for at most `bitrate` bits per second: the largest value
    /// the wire can say that is not above it, since a cap must not be
    /// exceeded.
    pub fn new(sender_ssrc: u32, media_ssrc: u32, bitrate: u64, overhead: u16) -> Tmmbr {
        let mut exponent = 0;
        let mut mantissa = bitrate;
        while mantissa > MANTISSA_MAX && exponent < EXPONENT_MAX {
            mantissa >>= 1;
            exponent += 1;
        }
        Tmmbr {
            sender_ssrc,
            media_ssrc,
            exponent,
            mantissa: mantissa.min(MANTISSA_MAX) as u32,
            overhead: overhead.min(OVERHEAD_MAX),
        }
    }

    /// The most bits per second asked for (saturating: a 17-bit mantissa
    /// shifted by up to 63 can exceed 64 bits).
    pub fn bitrate(&self) -> u64 {
        let m = u64::from(self.mantissa);
        let e = u32::from(self.exponent);
        if m.leading_zeros() >= e {
            m << e
        } else {
            u64::MAX
        }
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Tmmbr, RtpError> {
        let sender_ssrc = r.u32()?;
        // RFC 5104 4.2.1.2: the media source field is zero; the FCI names
        // the source.
        let _zero = r.u32()?;
        let media_ssrc = r.u32()?;
        let word = r.u32()?;
        // We ask one source at a time; a request naming several is refused
        // rather than half understood.
        r.finish_ref()?;
        Ok(Tmmbr {
            sender_ssrc,
            media_ssrc,
            exponent: (word >> 26) as u8,
            mantissa: word >> 9 & MANTISSA_MAX as u32,
            overhead: (word & u32::from(OVERHEAD_MAX)) as u16,
        })
    }

    pub(super) fn write(&self, w: &mut Writer<'_>) {
        w.u32(self.sender_ssrc);
        w.u32(0);
        w.u32(self.media_ssrc);
        w.u32(
            u32::from(self.exponent.min(EXPONENT_MAX)) << 26
                | (self.mantissa & MANTISSA_MAX as u32) << 9
                | u32::from(self.overhead.min(OVERHEAD_MAX)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::Rtcp;
    use super::*;

    fn round_trip(p: &Rtcp) -> Vec<u8> {
        let mut buf = vec![0xa5; p.buffer_len()];
        assert_eq!(p.emit(&mut buf), buf.len());
        let back = Rtcp::parse_compound(&buf).unwrap();
        assert_eq!(back, vec![p.clone()]);
        buf
    }

    #[test]
    fn a_nack_packs_neighbours_into_the_bitmask() {
        let nack = Nack::from_lost(0x0102_0304, 0x0a0b_0c0d, &[100, 101, 103, 116, 117, 300]);
        assert_eq!(
            nack.entries,
            vec![(100, 0b1000_0000_0000_0101), (117, 0), (300, 0)]
        );
        assert_eq!(nack.lost(), vec![100, 101, 103, 116, 117, 300]);
        let bytes = round_trip(&Rtcp::Nack(nack));
        #[rustfmt::skip]
        let want = [
            0x81, 205, 0, 5,
            0x01, 0x02, 0x03, 0x04,
            0x0a, 0x0b, 0x0c, 0x0d,
            0, 100, 0x80, 0x05,
            0, 117, 0, 0,
            0x01, 0x2c, 0, 0,
        ];
        assert_eq!(bytes, want);
    }

    #[test]
    fn a_nack_wraps_around_the_sequence_space() {
        let nack = Nack::from_lost(1, 2, &[65534, 65535, 0, 1]);
        assert_eq!(nack.entries, vec![(65534, 0b111)]);
        assert_eq!(nack.lost(), vec![65534, 65535, 0, 1]);
        round_trip(&Rtcp::Nack(nack));
    }

    #[test]
    fn overlapping_entries_parse_and_emit_as_they_came() {
        // PID 5 with 6 in its mask, then 6 again: kept as two entries.
        let wire = [
            0x81, 205, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 5, 0, 1, 0, 6, 0, 0,
        ];
        let parsed = Rtcp::parse_compound(&wire).unwrap();
        let Rtcp::Nack(n) = &parsed[0] else {
            panic!("not a NACK");
        };
        assert_eq!(n.lost(), vec![5, 6, 6]);
        assert_eq!(parsed[0].to_bytes(), wire);
    }

    #[test]
    fn tmmbr_rounds_down_to_what_the_wire_says() {
        let t = Tmmbr::new(7, 9, 2_000_000, 40);
        let wire = t.bitrate();
        assert!(wire <= 2_000_000 && wire > 1_999_000, "{wire}");
        let bytes = round_trip(&Rtcp::Tmmbr(t));
        assert_eq!(bytes[0], 0x83);
        assert_eq!(bytes[1], 205);
        assert_eq!(&bytes[8..16], &[0, 0, 0, 0, 0, 0, 0, 9]);
        assert_eq!(Tmmbr::new(1, 2, 1000, 600).overhead, 511);
    }

    #[test]
    fn short_or_empty_feedback_is_refused_and_other_kinds_kept() {
        // NACK with no FCI.
        let empty = [0x81, 205, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
        assert!(Rtcp::parse_compound(&empty).is_err());
        // TMMBR with a half entry, and with two entries.
        let half = [0x83, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2];
        assert!(Rtcp::parse_compound(&half).is_err());
        let mut two = vec![0x83, 205, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0];
        two.extend_from_slice(&[0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 3, 0, 1, 0, 0]);
        assert!(Rtcp::parse_compound(&two).is_err());
        // An FMT we do not use stays whole.
        let other = [0x84, 205, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
        assert!(matches!(
            Rtcp::parse_compound(&other).unwrap()[0],
            Rtcp::Unknown {
                packet_type: 205,
                count: 4,
                ..
            }
        ));
        // A huge exponent saturates, and still round-trips.
        let huge = [
            0x83, 205, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xff, 0xfe, 0x00,
        ];
        let parsed = Rtcp::parse_compound(&huge).unwrap();
        let Rtcp::Tmmbr(t) = &parsed[0] else {
            panic!("not a TMMBR");
        };
        assert_eq!(t.bitrate(), u64::MAX);
        assert_eq!(parsed[0].to_bytes(), huge);
    }
}
