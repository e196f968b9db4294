//! RTCP (RFC 3550 section 6), the control half of each media stream: the
//! sender and receiver reports that carry loss, jitter and round-trip time,
//! SDES with our CNAME, and BYE. A datagram holds a compound packet, several
//! RTCP packets back to back; [`RtcpCompound`] walks it as checked
//! [`RtcpPacket`] views and [`Rtcp`] is the owned form of one packet, with
//! symmetric [`Rtcp::parse`], [`Rtcp::emit`] and [`Rtcp::buffer_len`].
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|  count  | packet type   |  length (32-bit words − 1)    |
//! |                 body (length words), padding last             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

mod feedback;
mod sdes;

pub use feedback::{Nack, Tmmbr, FMT_NACK, FMT_TMMBR, MAX_NACK_FCI};

pub use sdes::{Sdes, SdesChunk, SdesItem, SdesItemKind};

use super::{ntp_middle_32, ntp_short_to_duration, RtpError, RTP_VERSION, VERSION_SHIFT};
use byteorder::{BigEndian, ByteOrder, ReadBytesExt, WriteBytesExt};
use std::io::Write;
use std::iter::FusedIterator;
use std::time::Duration;

/// Size of the header every RTCP packet starts with.
pub const RTCP_HEADER_LEN: usize = 4;
/// Size of one report block in a sender or receiver report.
pub const REPORT_BLOCK_LEN: usize = 24;
/// Most report blocks, SDES chunks or BYE sources one packet can count: the
/// count field has five bits.
pub const MAX_RTCP_COUNT: usize = 31;
/// Longest SDES item text or BYE reason: the length field is one byte.
pub const MAX_SDES_TEXT_LEN: usize = 255;

const PADDING_BIT: u8 = 0x20;
const COUNT_MASK: u8 = 0x1f;

/// RTCP packet types (the second byte).
pub mod rtcp_type {
    /// Sender report.
    pub const SR: u8 = 200;
    /// Receiver report.
    pub const RR: u8 = 201;
    /// Source description.
    pub const SDES: u8 = 202;
    /// Goodbye: the source leaves.
    pub const BYE: u8 = 203;
    /// Application-defined (parsed as [`super::Rtcp::Unknown`]).
    pub const APP: u8 = 204;
    /// Transport-layer feedback (RFC 4585): NACK and TMMBR.
    pub const RTPFB: u8 = 205;
}

mod field {
    use std::ops::Range;
    /// V, P and the count.
    pub const FLAGS: usize = 0;
    pub const PACKET_TYPE: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
}

/// Bytes of the RTCP packet at the front of `buf`, by its length field, or an
/// error if the header is short, of the wrong version, or claims too much.
fn packet_len(buf: &[u8]) -> Result<usize, RtpError> {
    let flags = *buf.first().ok_or(RtpError::Truncated)?;
    let version = flags >> VERSION_SHIFT;
    if version != RTP_VERSION {
        return Err(RtpError::BadVersion(version));
    }
    let length = buf.get(field::LENGTH).ok_or(RtpError::Truncated)?;
    let claimed = (usize::from(BigEndian::read_u16(length)) + 1) * 4;
    if claimed > buf.len() {
        return Err(RtpError::LengthPastEnd {
            claimed,
            available: buf.len(),
        });
    }
    Ok(claimed)
}

/// A checked view of one RTCP packet: its length field matches the buffer and
/// its padding fits, so no accessor can read out of bounds.
#[derive(Debug, Clone)]
pub struct RtcpPacket<T: AsRef<[u8]>> {
    buffer: T,
    /// Where the body ends: before the padding.
    body_end: usize,
}

impl<T: AsRef<[u8]>> RtcpPacket<T> {
    /// Wraps `buffer`, which must hold exactly one RTCP packet.
    pub fn new_checked(buffer: T) -> Result<RtcpPacket<T>, RtpError> {
        let b = buffer.as_ref();
        let len = packet_len(b)?;
        if len < b.len() {
            return Err(RtpError::TrailingBytes(b.len() - len));
        }
        let mut body_end = len;
        if b[field::FLAGS] & PADDING_BIT != 0 {
            // RFC 3550 6.4.1: the count includes itself and is a multiple of
            // four, since every body is a whole number of words.
            let count = *b.last().ok_or(RtpError::Truncated)?;
            let pad = usize::from(count);
            if pad == 0 || pad % 4 != 0 || pad > len - RTCP_HEADER_LEN {
                return Err(RtpError::BadPadding(count));
            }
            body_end -= pad;
        }
        Ok(RtcpPacket { buffer, body_end })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Whether the padding bit is set (the padding is left out of [`RtcpPacket::body`]).
    pub fn has_padding(&self) -> bool {
        self.bytes()[field::FLAGS] & PADDING_BIT != 0
    }

    /// The five-bit count: report blocks (SR, RR), chunks (SDES), sources (BYE).
    pub fn count(&self) -> u8 {
        self.bytes()[field::FLAGS] & COUNT_MASK
    }

    /// The packet type, one of [`rtcp_type`] or another.
    pub fn packet_type(&self) -> u8 {
        self.bytes()[field::PACKET_TYPE]
    }

    /// The bytes after the header, without the padding.
    pub fn body(&self) -> &[u8] {
        &self.bytes()[RTCP_HEADER_LEN..self.body_end]
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

/// The RTCP packets of one compound datagram, as checked views. Framing errors
/// (a short header, a wrong version, a length past the end, bad padding) end
/// the walk with one `Err`, since the next packet cannot be found; an empty
/// datagram is `Err(Truncated)`. Errors inside a body surface later, from
/// [`Rtcp::parse`], and leave the other packets usable.
#[derive(Debug, Clone)]
pub struct RtcpCompound<'a> {
    rest: &'a [u8],
    first: bool,
    failed: bool,
}

impl<'a> RtcpCompound<'a> {
    /// Starts a walk over `datagram`.
    pub fn new(datagram: &'a [u8]) -> Self {
        RtcpCompound {
            rest: datagram,
            first: true,
            failed: false,
        }
    }

    fn step(&mut self) -> Result<RtcpPacket<&'a [u8]>, RtpError> {
        let len = packet_len(self.rest)?;
        let (head, tail) = self.rest.split_at(len);
        let packet = RtcpPacket::new_checked(head)?;
        // RFC 3550 A.2: only the last packet of a compound may be padded.
        if packet.has_padding() && !tail.is_empty() {
            return Err(RtpError::PaddingNotLast);
        }
        self.rest = tail;
        Ok(packet)
    }
}

impl<'a> Iterator for RtcpCompound<'a> {
    type Item = Result<RtcpPacket<&'a [u8]>, RtpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || (self.rest.is_empty() && !self.first) {
            return None;
        }
        self.first = false;
        let item = self.step();
        self.failed = item.is_err();
        Some(item)
    }
}

impl FusedIterator for RtcpCompound<'_> {}

/// One reception report (RFC 3550 6.4.1): how one source reaches us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Packets lost since the previous report, as a fraction of 256.
    pub fraction_lost: u8,
    /// Packets lost since the start, a signed 24-bit value on the wire
    /// (duplicates can make it negative); emit clamps it to that range.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received: cycles in the high 16 bits.
    pub highest_seq: u32,
    /// Interarrival jitter, in RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR from this source (LSR),
    /// zero if none has arrived.
    pub last_sr: u32,
    /// Delay from receiving that SR to sending this report (DLSR), in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// Largest cumulative loss the 24-bit field can carry.
    pub const MAX_CUMULATIVE_LOST: i32 = 0x7f_ffff;
    /// Smallest (most negative) cumulative loss the 24-bit field can carry.
    pub const MIN_CUMULATIVE_LOST: i32 = -0x80_0000;

    /// The round-trip time to the reporting peer (RFC 3550 6.4.1), given the
    /// NTP time at which this report arrived, by the same clock that stamped
    /// our SR. `None` if the peer has not seen an SR yet, or if its figures
    /// would make the time negative.
    pub fn round_trip(&self, arrival_ntp: u64) -> Option<Duration> {
        if self.last_sr == 0 {
            return None;
        }
        let rtt = ntp_middle_32(arrival_ntp)
            .wrapping_sub(self.last_sr)
            .wrapping_sub(self.delay_since_last_sr);
        // Serial arithmetic: anything in the upper half is a negative time.
        (rtt < 0x8000_0000).then(|| ntp_short_to_duration(rtt))
    }

    fn read(r: &mut Reader<'_>) -> Result<ReportBlock, RtpError> {
        let ssrc = r.u32()?;
        let lost = r.u32()?;
        Ok(ReportBlock {
            ssrc,
            fraction_lost: (lost >> 24) as u8,
            // Shift the 24-bit field to the top, then back, to sign-extend it.
            cumulative_lost: ((lost << 8) as i32) >> 8,
            highest_seq: r.u32()?,
            jitter: r.u32()?,
            last_sr: r.u32()?,
            delay_since_last_sr: r.u32()?,
        })
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.u32(self.ssrc);
        let lost = self
            .cumulative_lost
            .clamp(Self::MIN_CUMULATIVE_LOST, Self::MAX_CUMULATIVE_LOST);
        w.u32(u32::from(self.fraction_lost) << 24 | (lost as u32 & 0x00ff_ffff));
        w.u32(self.highest_seq);
        w.u32(self.jitter);
        w.u32(self.last_sr);
        w.u32(self.delay_since_last_sr);
    }
}

/// A sender report (PT 200): what we sent, stamped with wall clock and RTP
/// time so the receiver can sync streams and time the round trip.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SenderReport {
    /// The sender.
    pub ssrc: u32,
    /// Wall clock time of this report, 64-bit NTP format.
    pub ntp_time: u64,
    /// The same instant in the stream's RTP timestamp units.
    pub rtp_time: u32,
    /// Packets sent since the start.
    pub packet_count: u32,
    /// Payload bytes sent since the start.
    pub octet_count: u32,
    /// Reports on the sources the sender receives (at most [`MAX_RTCP_COUNT`]).
    pub reports: Vec<ReportBlock>,
}

/// A receiver report (PT 201): reports from a participant that is not sending.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiverReport {
    /// The reporter.
    pub ssrc: u32,
    /// Reports on the sources it receives (at most [`MAX_RTCP_COUNT`]).
    pub reports: Vec<ReportBlock>,
}

/// A goodbye (PT 203): these sources leave the session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bye {
    /// The sources leaving (at most [`MAX_RTCP_COUNT`]).
    pub sources: Vec<u32>,
    /// Why, if given; emit sends at most [`MAX_SDES_TEXT_LEN`] bytes of it.
    pub reason: Option<Vec<u8>>,
}

/// One RTCP packet, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rtcp {
    /// Sender report.
    SenderReport(SenderReport),
    /// Receiver report.
    ReceiverReport(ReceiverReport),
    /// Source description.
    Sdes(Sdes),
    /// Goodbye.
    Bye(Bye),
    /// Generic NACK (RTPFB FMT 1).
    Nack(Nack),
    /// Temporary maximum media bitrate request (RTPFB FMT 3).
    Tmmbr(Tmmbr),
    /// A packet type this version does not handle (APP, feedback, XR): kept
    /// whole so it can be logged or passed on. Emitting one with a known type
    /// code is a caller bug: it would not parse back as `Unknown`.
    Unknown {
        /// The packet type.
        packet_type: u8,
        /// The five-bit count field.
        count: u8,
        /// The body without padding; emit pads it to a whole word with zeros.
        body: Vec<u8>,
    },
}

impl Rtcp {
    /// The packet type this packet is sent with.
    pub fn packet_type(&self) -> u8 {
        match self {
            Rtcp::SenderReport(_) => rtcp_type::SR,
            Rtcp::ReceiverReport(_) => rtcp_type::RR,
            Rtcp::Sdes(_) => rtcp_type::SDES,
            Rtcp::Bye(_) => rtcp_type::BYE,
            Rtcp::Nack(_) | Rtcp::Tmmbr(_) => rtcp_type::RTPFB,
            Rtcp::Unknown { packet_type, .. } => *packet_type,
        }
    }

    fn count(&self) -> usize {
        match self {
            Rtcp::SenderReport(sr) => sr.reports.len(),
            Rtcp::ReceiverReport(rr) => rr.reports.len(),
            Rtcp::Sdes(sdes) => sdes.chunks.len(),
            Rtcp::Bye(bye) => bye.sources.len(),
            // The count field of feedback is its FMT.
            Rtcp::Nack(_) => usize::from(FMT_NACK),
            Rtcp::Tmmbr(_) => usize::from(FMT_TMMBR),
            Rtcp::Unknown { count, .. } => usize::from(*count),
        }
    }

    fn body_len(&self) -> usize {
        match self {
            Rtcp::SenderReport(sr) => 24 + REPORT_BLOCK_LEN * sr.reports.len(),
            Rtcp::ReceiverReport(rr) => 4 + REPORT_BLOCK_LEN * rr.reports.len(),
            Rtcp::Sdes(sdes) => sdes.chunks.iter().map(SdesChunk::len).sum(),
            Rtcp::Bye(bye) => {
                let reason = bye
                    .reason
                    .as_ref()
                    .map_or(0, |r| round_up_to_word(1 + clip(r).len()));
                4 * bye.sources.len() + reason
            }
            Rtcp::Nack(n) => n.body_len(),
            Rtcp::Tmmbr(_) => feedback::FEEDBACK_COMMON_LEN + feedback::TMMBR_FCI_LEN,
            Rtcp::Unknown { body, .. } => round_up_to_word(body.len()),
        }
    }

    /// Parses the packet in a checked view. Profile-specific extensions after
    /// the report blocks of an SR or RR are skipped, as RFC 3550 6.4.1 allows;
    /// SDES and BYE must end at their last field.
    pub fn parse<T: AsRef<[u8]>>(packet: &RtcpPacket<T>) -> Result<Rtcp, RtpError> {
        let mut r = Reader::new(packet.body());
        let count = usize::from(packet.count());
        let parsed = match packet.packet_type() {
            rtcp_type::SR => Rtcp::SenderReport(SenderReport {
                ssrc: r.u32()?,
                ntp_time: r.u64()?,
                rtp_time: r.u32()?,
                packet_count: r.u32()?,
                octet_count: r.u32()?,
                reports: read_blocks(&mut r, count)?,
            }),
            rtcp_type::RR => Rtcp::ReceiverReport(ReceiverReport {
                ssrc: r.u32()?,
                reports: read_blocks(&mut r, count)?,
            }),
            rtcp_type::SDES => {
                let chunks = (0..count)
                    .map(|_| SdesChunk::read(&mut r))
                    .collect::<Result<_, _>>()?;
                r.finish()?;
                Rtcp::Sdes(Sdes { chunks })
            }
            rtcp_type::BYE => {
                let sources = (0..count).map(|_| r.u32()).collect::<Result<_, _>>()?;
                let reason = if r.is_empty() {
                    None
                } else {
                    let len = usize::from(r.u8()?);
                    let text = r.bytes(len)?.to_vec();
                    r.skip_to_word()?;
                    Some(text)
                };
                r.finish()?;
                Rtcp::Bye(Bye { sources, reason })
            }
            rtcp_type::RTPFB if packet.count() == FMT_NACK => Rtcp::Nack(Nack::read(&mut r)?),
            rtcp_type::RTPFB if packet.count() == FMT_TMMBR => Rtcp::Tmmbr(Tmmbr::read(&mut r)?),
            other => Rtcp::Unknown {
                packet_type: other,
                count: packet.count(),
                body: packet.body().to_vec(),
            },
        };
        Ok(parsed)
    }

    /// Parses every packet of a compound datagram, failing on the first error.
    pub fn parse_compound(datagram: &[u8]) -> Result<Vec<Rtcp>, RtpError> {
        RtcpCompound::new(datagram)
            .map(|packet| Rtcp::parse(&packet?))
            .collect()
    }

    /// Bytes [`Rtcp::emit`] writes: header plus body, a whole number of words.
    pub fn buffer_len(&self) -> usize {
        RTCP_HEADER_LEN + self.body_len()
    }

    /// Writes the packet into the front of `buf` and returns its length,
    /// [`Rtcp::buffer_len`]. We never pad.
    ///
    /// # Panics
    /// If `buf` is shorter than that, a count exceeds [`MAX_RTCP_COUNT`], an
    /// SDES item has type 0, or the packet exceeds 256 KiB: all bugs in the
    /// caller, not properties of any input.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let len = self.buffer_len();
        assert!(buf.len() >= len, "RTCP emit buffer smaller than buffer_len");
        let count = self.count();
        assert!(count <= MAX_RTCP_COUNT, "RTCP count {count} exceeds 31");
        let words = u16::try_from(len / 4 - 1).expect("RTCP packet exceeds its length field");
        let mut w = Writer::new(&mut buf[..len]);
        w.u8(RTP_VERSION << VERSION_SHIFT | count as u8);
        w.u8(self.packet_type());
        w.u16(words);
        match self {
            Rtcp::SenderReport(sr) => {
                w.u32(sr.ssrc);
                w.u64(sr.ntp_time);
                w.u32(sr.rtp_time);
                w.u32(sr.packet_count);
                w.u32(sr.octet_count);
                sr.reports.iter().for_each(|b| b.write(&mut w));
            }
            Rtcp::ReceiverReport(rr) => {
                w.u32(rr.ssrc);
                rr.reports.iter().for_each(|b| b.write(&mut w));
            }
            Rtcp::Sdes(sdes) => sdes.chunks.iter().for_each(|c| c.write(&mut w)),
            Rtcp::Bye(bye) => {
                bye.sources.iter().for_each(|&s| w.u32(s));
                if let Some(reason) = &bye.reason {
                    let text = clip(reason);
                    w.u8(text.len() as u8);
                    w.bytes(text);
                    w.zeros(round_up_to_word(1 + text.len()) - 1 - text.len());
                }
            }
            Rtcp::Nack(n) => n.write(&mut w),
            Rtcp::Tmmbr(t) => t.write(&mut w),
            Rtcp::Unknown { body, .. } => {
                w.bytes(body);
                w.zeros(round_up_to_word(body.len()) - body.len());
            }
        }
        debug_assert_eq!(w.remaining(), 0, "buffer_len and emit disagree");
        len
    }

    /// The packet as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = vec![0; self.buffer_len()];
        self.emit(&mut buf);
        buf
    }

    /// Bytes [`Rtcp::emit_compound`] writes for these packets.
    pub fn compound_len(packets: &[Rtcp]) -> usize {
        packets.iter().map(Rtcp::buffer_len).sum()
    }

    /// Writes the packets back to back into the front of `buf` as one compound
    /// packet and returns its length. RFC 3550 wants an SR or RR first and an
    /// SDES with a CNAME in every compound; that is the caller's to arrange.
    ///
    /// # Panics
    /// As [`Rtcp::emit`], for any of the packets.
    pub fn emit_compound(packets: &[Rtcp], buf: &mut [u8]) -> usize {
        let mut at = 0;
        for packet in packets {
            at += packet.emit(&mut buf[at..]);
        }
        at
    }
}

fn read_blocks(r: &mut Reader<'_>, count: usize) -> Result<Vec<ReportBlock>, RtpError> {
    (0..count).map(|_| ReportBlock::read(r)).collect()
}

fn round_up_to_word(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// The part of a text that fits a one-byte length; an over-long local text
/// still goes out rather than failing the emit.
fn clip(text: &[u8]) -> &[u8] {
    text.get(..MAX_SDES_TEXT_LEN).unwrap_or(text)
}

/// A cursor over an RTCP body that refuses to read past its end.
struct Reader<'a> {
    rest: &'a [u8],
    /// Body length, to find word boundaries from the body start (which is
    /// itself word-aligned in the packet).
    len: usize,
}

impl<'a> Reader<'a> {
    fn new(body: &'a [u8]) -> Self {
        Reader {
            rest: body,
            len: body.len(),
        }
    }

    fn u8(&mut self) -> Result<u8, RtpError> {
        self.rest.read_u8().map_err(|_| RtpError::Truncated)
    }

    fn u32(&mut self) -> Result<u32, RtpError> {
        self.rest
            .read_u32::<BigEndian>()
            .map_err(|_| RtpError::Truncated)
    }

    fn u64(&mut self) -> Result<u64, RtpError> {
        self.rest
            .read_u64::<BigEndian>()
            .map_err(|_| RtpError::Truncated)
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], RtpError> {
        if self.rest.len() < n {
            return Err(RtpError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// Steps over the null bytes that pad an SDES item list or BYE reason to
    /// the next word boundary. Their values are not checked: nothing reads them.
    fn skip_to_word(&mut self) -> Result<(), RtpError> {
        let consumed = self.len - self.rest.len();
        self.bytes(round_up_to_word(consumed) - consumed)
            .map(|_| ())
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// As [`Reader::finish`], for a reader still borrowed.
    fn finish_ref(&self) -> Result<(), RtpError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(RtpError::TrailingBytes(self.rest.len()))
        }
    }

    fn finish(self) -> Result<(), RtpError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(RtpError::TrailingBytes(self.rest.len()))
        }
    }
}

/// A cursor over an output buffer sized by `buffer_len`. Running out of room
/// is a bug in a `buffer_len`, never a property of the input, so it panics.
struct Writer<'a> {
    rest: &'a mut [u8],
}

const SIZED_BY_BUFFER_LEN: &str = "RTCP emit buffer smaller than buffer_len";

impl<'a> Writer<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Writer { rest: buf }
    }

    fn u8(&mut self, v: u8) {
        self.rest.write_u8(v).expect(SIZED_BY_BUFFER_LEN);
    }

    fn u16(&mut self, v: u16) {
        self.rest
            .write_u16::<BigEndian>(v)
            .expect(SIZED_BY_BUFFER_LEN);
    }

    fn u32(&mut self, v: u32) {
        self.rest
            .write_u32::<BigEndian>(v)
            .expect(SIZED_BY_BUFFER_LEN);
    }

    fn u64(&mut self, v: u64) {
        self.rest
            .write_u64::<BigEndian>(v)
            .expect(SIZED_BY_BUFFER_LEN);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.rest.write_all(b).expect(SIZED_BY_BUFFER_LEN);
    }

    fn zeros(&mut self, n: usize) {
        for _ in 0..n {
            self.u8(0);
        }
    }

    fn remaining(&self) -> usize {
        self.rest.len()
    }
}
