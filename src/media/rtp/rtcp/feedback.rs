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

/// A generic NACK: these packets of `media_ssrc` did not arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    /// Who asks.
    pub sender_ssrc: u32,
    /// Whose packets are missing.
    pub media_ssrc: u32,
    /// The missing sequence numbers, in the order the FCI entries name them.
    pub lost: Vec<u16>,
}

/// TMMBR: the receiver asks `media_ssrc` to send at most `bitrate` bits per
/// second (RFC 5104 4.2.1.1, one FCI entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tmmbr {
    /// Who asks.
    pub sender_ssrc: u32,
    /// The source asked to keep to the bitrate.
    pub media_ssrc: u32,
    /// The most bits per second, packet overhead included (as RFC 5104 counts).
    pub bitrate: u64,
    /// The per-packet overhead in bytes the figure assumes (9 bits).
    pub overhead: u16,
}

/// Largest mantissa of a TMMBR bitrate (17 bits).
const MANTISSA_MAX: u64 = (1 << 17) - 1;
/// Largest exponent of a TMMBR bitrate (6 bits).
const EXPONENT_MAX: u32 = 63;
/// Largest overhead (9 bits).
const OVERHEAD_MAX: u16 = (1 << 9) - 1;

impl Nack {
    /// The FCI entries naming [`Nack::lost`]: each entry a first packet
    /// and a bitmask of the 16 after it (RFC 4585 6.2.1).
    pub fn entries(&self) -> Vec<(u16, u16)> {
        let mut out: Vec<(u16, u16)> = Vec::new();
        for &seq in &self.lost {
            if let Some((pid, blp)) = out.last_mut() {
                let d = seq.wrapping_sub(*pid);
                if (1..=16).contains(&d) {
                    *blp |= 1 << (d - 1);
                    continue;
                }
            }
            out.push((seq, 0));
        }
        out
    }

    pub(super) fn body_len(&self) -> usize {
        FEEDBACK_COMMON_LEN + NACK_FCI_LEN * self.entries().len()
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Nack, RtpError> {
        let sender_ssrc = r.u32()?;
        let media_ssrc = r.u32()?;
        let mut lost = Vec::new();
        if r.is_empty() {
            // RFC 4585 6.1: the FCI holds at least one entry.
            return Err(RtpError::Truncated);
        }
        while !r.is_empty() {
            let entry = r.u32()?;
            let pid = (entry >> 16) as u16;
            let blp = entry as u16;
            lost.push(pid);
            for bit in 0..16u16 {
                if blp & (1 << bit) != 0 {
                    lost.push(pid.wrapping_add(bit + 1));
                }
            }
        }
        Ok(Nack {
            sender_ssrc,
            media_ssrc,
            lost,
        })
    }

    pub(super) fn write(&self, w: &mut Writer<'_>) {
        w.u32(self.sender_ssrc);
        w.u32(self.media_ssrc);
        for (pid, blp) in self.entries() {
            w.u32(u32::from(pid) << 16 | u32::from(blp));
        }
    }
}

impl Tmmbr {
    /// The bitrate as exponent and mantissa: the largest representable
    /// value not above `bitrate`, since a request must not be exceeded.
    fn encoded(&self) -> (u32, u64) {
        let mut exp = 0;
        let mut mantissa = self.bitrate;
        while mantissa > MANTISSA_MAX && exp < EXPONENT_MAX {
            mantissa >>= 1;
            exp += 1;
        }
        (exp, mantissa.min(MANTISSA_MAX))
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Tmmbr, RtpError> {
        let sender_ssrc = r.u32()?;
        // RFC 5104 4.2.1.2: the media source field is zero; the FCI names the source.
        let _zero = r.u32()?;
        let media_ssrc = r.u32()?;
        let word = r.u32()?;
        let exp = word >> 26;
        let mantissa = u64::from(word >> 9 & MANTISSA_MAX as u32);
        // A 17-bit mantissa shifted by up to 63 can overflow 64 bits.
        let bitrate = if mantissa << exp >> exp == mantissa {
            mantissa << exp
        } else {
            u64::MAX
        };
        // Only one entry is used; more entries (other sources) are ignored,
        // but must be whole.
        while !r.is_empty() {
            r.bytes(TMMBR_FCI_LEN)?;
        }
        Ok(Tmmbr {
            sender_ssrc,
            media_ssrc,
            bitrate,
            overhead: (word & u32::from(OVERHEAD_MAX)) as u16,
        })
    }

    pub(super) fn write(&self, w: &mut Writer<'_>) {
        let (exp, mantissa) = self.encoded();
        w.u32(self.sender_ssrc);
        w.u32(0);
        w.u32(self.media_ssrc);
        w.u32(exp << 26 | (mantissa as u32) << 9 | u32::from(self.overhead.min(OVERHEAD_MAX)));
    }

    /// The bitrate as the wire carries it (rounded down to what 17 bits of
    /// mantissa can say).
    pub fn wire_bitrate(&self) -> u64 {
        let (exp, mantissa) = self.encoded();
        mantissa << exp
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
        let nack = Nack {
            sender_ssrc: 0x0102_0304,
            media_ssrc: 0x0a0b_0c0d,
            lost: vec![100, 101, 103, 116, 117, 300],
        };
        assert_eq!(
            nack.entries(),
            vec![(100, 0b1000_0000_0000_0101), (117, 0), (300, 0)]
        );
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
        let nack = Nack {
            sender_ssrc: 1,
            media_ssrc: 2,
            lost: vec![65534, 65535, 0, 1],
        };
        assert_eq!(nack.entries(), vec![(65534, 0b111)]);
        round_trip(&Rtcp::Nack(nack));
    }

    #[test]
    fn tmmbr_rounds_down_to_what_the_wire_says() {
        let t = Tmmbr {
            sender_ssrc: 7,
            media_ssrc: 9,
            bitrate: 2_000_000,
            overhead: 40,
        };
        let wire = t.wire_bitrate();
        assert!(wire <= 2_000_000 && wire > 1_999_000, "{wire}");
        let bytes = Rtcp::Tmmbr(t).to_bytes();
        let back = Rtcp::parse_compound(&bytes).unwrap();
        assert_eq!(back, vec![Rtcp::Tmmbr(Tmmbr { bitrate: wire, ..t })]);
        assert_eq!(bytes[0], 0x83);
        assert_eq!(bytes[1], 205);
        assert_eq!(&bytes[8..16], &[0, 0, 0, 0, 0, 0, 0, 9]);
    }

    #[test]
    fn short_or_empty_feedback_is_refused_and_other_kinds_kept() {
        // NACK with no FCI.
        let empty = [0x81, 205, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
        assert!(Rtcp::parse_compound(&empty).is_err());
        // TMMBR with a half entry.
        let half = [0x83, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2];
        assert!(Rtcp::parse_compound(&half).is_err());
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
        // A huge exponent does not overflow.
        let huge = [
            0x83, 205, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xff, 0xfe, 0x00,
        ];
        let Rtcp::Tmmbr(t) = &Rtcp::parse_compound(&huge).unwrap()[0] else {
            panic!("not a TMMBR");
        };
        assert_eq!(t.bitrate, u64::MAX);
    }
}
