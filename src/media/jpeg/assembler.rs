//! Putting frames back together on the receiving side. Payloads arrive in any
//! order, lost, duplicated or late; each RTP timestamp gathers its fragments
//! until the bytes from offset 0 to the end of the marker packet are all
//! there, and then the frame comes out as a complete JPEG file.
//!
//! Types 64 and 65 carry a restart marker header in every fragment; its
//! interval must be the same in all of them and goes into the rebuilt file's
//! DRI segment. Its F, L and restart count only matter to a receiver that
//! decodes a frame piece by piece, so they are not checked: whole-frame
//! reassembly is right however the sender cut the frame.
//!
//! Frames come out in timestamp order only: once a frame is shown, anything
//! at or before its timestamp is late and dropped, and so is every older
//! frame still incomplete. Memory is bounded by [`MAX_PENDING_FRAMES`] frames
//! of at most [`MAX_FRAME_LEN`] scan bytes and [`MAX_RUNS_PER_FRAME`] pieces.
//! With loss repair ([`FrameAssembler::for_repair`]) a completed frame does
//! not give up the older ones still incomplete, since a retransmission may
//! yet complete them: the caller, which holds complete frames until their
//! playout time, says with [`FrameAssembler::give_up_through`] when a frame
//! is shown and everything at or before it is too late.
//!
//! One assembler serves one RTP stream (one SSRC); when the SSRC changes,
//! call [`FrameAssembler::reset`], since a new sender's timestamps are
//! unrelated to the old one's.

use super::payload::{Payload, PayloadError, Q_DYNAMIC};
use super::tables::{
    make_tables, marker, write_headers, QuantTables, DRI_SEGMENT_LEN, HEADERS_LEN,
};
use super::{MainHeader, Subsampling};
use std::collections::BTreeMap;
use std::fmt;

/// Most frames gathered at once. A fifth frame's first packet pushes out the
/// oldest, which counts as dropped.
pub const MAX_PENDING_FRAMES: usize = 4;
/// Most frames gathered at once with loss repair: frames wait for
/// retransmissions up to the video playout delay (at most 250 ms, under 8
/// frames at 30 fps), completed ones waiting to be shown are remembered too.
pub const MAX_PENDING_FRAMES_REPAIR: usize = 16;
/// Most scan bytes one frame may have (1 MiB; a 1920x1080 MJPEG frame at
/// high quality is around 500 KB).
pub const MAX_FRAME_LEN: usize = 1 << 20;
/// Most separate pieces (runs of contiguous received bytes) one frame may be
/// in while it waits for the gaps between them. Adjacent fragments merge into
/// one piece, so this only binds under heavy reordering or an attack.
pub const MAX_RUNS_PER_FRAME: usize = 1024;

/// A reassembled frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegFrame {
    /// The RTP timestamp all its fragments carried.
    pub timestamp: u32,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// The chroma layout (RFC 2435 type).
    pub subsampling: Subsampling,
    /// The type-specific field: 0 for a progressive frame, 1..=3 for
    /// interlaced fields (see [`MainHeader::type_specific`]).
    pub type_specific: u8,
    /// A complete JPEG file: rebuilt headers, the scan, EOI.
    pub jpeg: Vec<u8>,
}

/// Why [`FrameAssembler::push`] did not take a packet. Each is counted in
/// [`AssemblerStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// The payload is malformed or contradicts its frame.
    Malformed(PayloadError),
    /// Its frame is at or before one already output or given up on, or is
    /// older than every pending frame when no slot is free.
    Late,
    /// Every byte it carries was already received.
    Duplicate,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejected::Malformed(e) => write!(f, "malformed RTP/JPEG payload: {e}"),
            Rejected::Late => write!(f, "late: its frame is older than one already output"),
            Rejected::Duplicate => write!(f, "duplicate fragment"),
        }
    }
}

impl std::error::Error for Rejected {}

/// What the assembler has seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssemblerStats {
    /// Frames output whole.
    pub frames_completed: u64,
    /// Frames given up incomplete: a newer frame completed first, or they
    /// were the oldest when a frame needed a slot.
    pub frames_dropped_incomplete: u64,
    /// Packets refused as [`Rejected::Malformed`].
    pub packets_malformed: u64,
    /// Packets refused as [`Rejected::Late`].
    pub packets_late: u64,
    /// Packets refused as [`Rejected::Duplicate`].
    pub packets_duplicate: u64,
}

/// Reassembles RFC 2435 frames from payloads (see the module docs).
#[derive(Debug, Default)]
pub struct FrameAssembler {
    pending: Vec<PendingFrame>,
    /// With loss repair: older incomplete frames outlive a completed one.
    repair: bool,
    /// Frames at or before this timestamp are never output: the last frame
    /// output, or a newer one given up on.
    horizon: Option<u32>,
    /// Tables announced for Q 128..=254, which later frames may omit.
    static_tables: BTreeMap<u8, QuantTables>,
    stats: AssemblerStats,
}

impl FrameAssembler {
    /// An empty assembler.
    pub fn new() -> FrameAssembler {
        FrameAssembler::default()
    }

    /// An empty assembler for a stream with loss repair (see the module docs).
    pub fn for_repair() -> FrameAssembler {
        FrameAssembler {
            repair: true,
            ..FrameAssembler::default()
        }
    }

    fn capacity(&self) -> usize {
        if self.repair {
            MAX_PENDING_FRAMES_REPAIR
        } else {
            MAX_PENDING_FRAMES
        }
    }

    /// With loss repair: the frame at `timestamp` is shown (or skipped), so
    /// it and every older frame are done; the incomplete ones count as
    /// dropped, and their late packets are refused from now on.
    pub fn give_up_through(&mut self, timestamp: u32) {
        let before = self.pending.len();
        let mut dropped = 0;
        self.pending.retain(|f| {
            let keep = is_newer(f.timestamp, timestamp);
            if !keep && !f.done {
                dropped += 1;
            }
            keep
        });
        debug_assert!(self.pending.len() <= before);
        self.stats.frames_dropped_incomplete += dropped;
        if self.horizon.is_none_or(|h| is_newer(timestamp, h)) {
            self.horizon = Some(timestamp);
        }
    }

    /// Frames being gathered that are not complete yet.
    pub fn incomplete_frames(&self) -> usize {
        self.pending.iter().filter(|f| !f.done).count()
    }

    /// Whether the frame at `timestamp` is pending and incomplete.
    pub fn is_incomplete(&self, timestamp: u32) -> bool {
        self.pending
            .iter()
            .any(|f| f.timestamp == timestamp && !f.done)
    }

    /// Takes one RTP packet's payload with the RTP fields it needs, and
    /// returns the frame it completed, if any. `seq` is only used in log
    /// lines: fragment offsets, not sequence numbers, place the bytes.
    pub fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<Option<JpegFrame>, Rejected> {
        let result = self.accept(timestamp, marker, payload);
        match &result {
            Ok(_) => {}
            Err(Rejected::Malformed(_)) => self.stats.packets_malformed += 1,
            Err(Rejected::Late) => self.stats.packets_late += 1,
            Err(Rejected::Duplicate) => self.stats.packets_duplicate += 1,
        }
        if let Err(e) = &result {
            log::debug!("RTP/JPEG seq {seq} timestamp {timestamp} dropped: {e}");
        }
        result
    }

    /// The counters so far.
    pub fn stats(&self) -> AssemblerStats {
        self.stats
    }

    /// Frames being gathered (at most [`MAX_PENDING_FRAMES`]).
    pub fn pending_frames(&self) -> usize {
        self.pending.len()
    }

    /// Scan bytes held for pending frames (including not yet received gaps
    /// below the highest fragment).
    pub fn pending_bytes(&self) -> usize {
        self.pending.iter().map(|f| f.data.len()).sum()
    }

    /// Forgets every pending frame (counted as dropped), the timestamp order
    /// and the cached tables, for a new stream. Counters are kept.
    pub fn reset(&mut self) {
        self.stats.frames_dropped_incomplete += self.pending.len() as u64;
        self.pending.clear();
        self.horizon = None;
        self.static_tables.clear();
    }

    fn accept(
        &mut self,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<Option<JpegFrame>, Rejected> {
        let p = Payload::parse(payload).map_err(Rejected::Malformed)?;
        if p.data.is_empty() {
            return Err(Rejected::Malformed(PayloadError::NoData));
        }
        let start = p.header.fragment_offset as usize;
        let end = start + p.data.len();
        if end > MAX_FRAME_LEN {
            return Err(Rejected::Malformed(PayloadError::FrameTooLarge));
        }
        if self.horizon.is_some_and(|h| !is_newer(timestamp, h)) {
            return Err(Rejected::Late);
        }
        let tables = match p.header.fragment_offset {
            0 => Some(self.tables_of(&p).map_err(Rejected::Malformed)?),
            _ => None,
        };
        let index = match self.pending.iter().position(|f| f.timestamp == timestamp) {
            Some(i) => i,
            None => {
                self.make_room(timestamp)?;
                self.pending
                    .push(PendingFrame::new(timestamp, p.header, restart_interval(&p)));
                self.pending.len() - 1
            }
        };
        let Some(frame) = self.pending.get_mut(index) else {
            return Ok(None);
        };
        if frame.done {
            return Err(Rejected::Duplicate);
        }
        // Offsets fit 24 bits and `end` is capped at MAX_FRAME_LEN, so both
        // fit a u32.
        let added = frame.add(&p, tables, start as u32, marker);
        if added.is_err() && frame.runs.is_empty() {
            self.pending.swap_remove(index);
        }
        added?;
        if !self
            .pending
            .get(index)
            .is_some_and(PendingFrame::is_complete)
        {
            return Ok(None);
        }
        let frame = if self.repair {
            // Kept, emptied, so its late duplicates are known as such.
            let Some(slot) = self.pending.get_mut(index) else {
                return Ok(None);
            };
            let done = PendingFrame {
                done: true,
                data: Vec::new(),
                runs: Vec::new(),
                ..slot.clone_header()
            };
            std::mem::replace(slot, done)
        } else {
            self.pending.swap_remove(index)
        };
        Ok(frame.tables.map(|tables| self.output(frame, tables)))
    }

    /// The tables a first fragment stands for, remembering static ones.
    fn tables_of(&mut self, p: &Payload<'_>) -> Result<QuantTables, PayloadError> {
        let q = p.header.q;
        match p.quant_tables {
            None => Ok(make_tables(q)),
            Some(bytes) => match QuantTables::from_bytes(bytes) {
                Some(t) => {
                    if q != Q_DYNAMIC {
                        self.static_tables.insert(q, t);
                    }
                    Ok(t)
                }
                None => self
                    .static_tables
                    .get(&q)
                    .copied()
                    .ok_or(PayloadError::UnknownQuantTables(q)),
            },
        }
    }

    /// Frees a slot for a new frame at `timestamp` by giving up the oldest
    /// pending frame, unless the new one would be the oldest itself.
    fn make_room(&mut self, timestamp: u32) -> Result<(), Rejected> {
        if self.pending.len() < self.capacity() {
            return Ok(());
        }
        // A completed frame's slot only remembers it: free that first.
        if let Some(i) = self.pending.iter().position(|f| f.done) {
            self.pending.swap_remove(i);
            return Ok(());
        }
        // Ordered by distance from half the clock behind the new packet, so
        // wraparound does not matter within 2^31 ticks either side.
        let anchor = timestamp.wrapping_sub(1 << 31);
        let age = |t: u32| t.wrapping_sub(anchor);
        let Some((oldest, oldest_ts)) = self
            .pending
            .iter()
            .enumerate()
            .map(|(i, f)| (i, f.timestamp))
            .min_by_key(|&(_, t)| age(t))
        else {
            return Ok(());
        };
        if age(timestamp) < age(oldest_ts) {
            return Err(Rejected::Late);
        }
        self.pending.swap_remove(oldest);
        self.stats.frames_dropped_incomplete += 1;
        if self.horizon.is_none_or(|h| is_newer(oldest_ts, h)) {
            self.horizon = Some(oldest_ts);
        }
        Ok(())
    }

    /// Outputs a complete frame and gives up every older one.
    fn output(&mut self, frame: PendingFrame, tables: QuantTables) -> JpegFrame {
        if !self.repair {
            let before = self.pending.len();
            self.pending
                .retain(|f| is_newer(f.timestamp, frame.timestamp));
            self.stats.frames_dropped_incomplete += (before - self.pending.len()) as u64;
            self.horizon = Some(frame.timestamp);
        }
        self.stats.frames_completed += 1;

        let h = frame.header;
        let mut jpeg = Vec::with_capacity(HEADERS_LEN + DRI_SEGMENT_LEN + frame.data.len() + 2);
        write_headers(
            &mut jpeg,
            h.subsampling,
            h.width(),
            h.height(),
            frame.restart_interval,
            &tables,
        );
        jpeg.extend_from_slice(&frame.data);
        // Some senders (GStreamer) keep the EOI in the last fragment. In
        // entropy-coded data 0xff is always followed by 0x00 or a marker, so
        // a trailing ff d9 can only be that EOI.
        if !frame.data.ends_with(&[0xff, marker::EOI]) {
            jpeg.extend_from_slice(&[0xff, marker::EOI]);
        }
        JpegFrame {
            timestamp: frame.timestamp,
            width: h.width(),
            height: h.height(),
            subsampling: h.subsampling,
            type_specific: h.type_specific,
            jpeg,
        }
    }
}

/// The restart interval a payload announces, 0 for types 0 and 1 (parsing
/// refused a restart marker header with interval 0, so 0 means "none").
fn restart_interval(p: &Payload<'_>) -> u16 {
    p.restart.map_or(0, |r| r.interval)
}

/// Whether RTP timestamp `a` is after `b`, modulo 2^32 (RFC 3550 arithmetic).
fn is_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

/// One frame being gathered.
#[derive(Debug)]
struct PendingFrame {
    timestamp: u32,
    header: MainHeader,
    /// From the restart marker header of the first fragment to arrive; 0 for
    /// types 0 and 1.
    restart_interval: u16,
    /// From the fragment at offset 0, once it has arrived.
    tables: Option<QuantTables>,
    /// Scan bytes by offset; gaps are zero until filled.
    data: Vec<u8>,
    /// Received byte ranges, sorted, disjoint and not touching.
    runs: Vec<(u32, u32)>,
    /// End of the scan, from the marker packet.
    end: Option<u32>,
    /// Completed and output (with loss repair, kept to refuse duplicates).
    done: bool,
}

impl PendingFrame {
    fn new(timestamp: u32, header: MainHeader, restart_interval: u16) -> PendingFrame {
        PendingFrame {
            timestamp,
            header,
            restart_interval,
            tables: None,
            data: Vec::new(),
            runs: Vec::new(),
            end: None,
            done: false,
        }
    }

    /// A copy of everything but the bytes.
    fn clone_header(&self) -> PendingFrame {
        PendingFrame {
            timestamp: self.timestamp,
            header: self.header,
            restart_interval: self.restart_interval,
            tables: self.tables,
            data: Vec::new(),
            runs: Vec::new(),
            end: self.end,
            done: self.done,
        }
    }

    fn is_complete(&self) -> bool {
        self.tables.is_some()
            && self
                .end
                .is_some_and(|end| self.runs.as_slice() == [(0, end)])
    }

    /// Adds one fragment's bytes at `start` (its offset). Everything is
    /// checked before anything changes, so a refused fragment leaves the
    /// frame as it was.
    fn add(
        &mut self,
        p: &Payload<'_>,
        tables: Option<QuantTables>,
        start: u32,
        marker: bool,
    ) -> Result<(), Rejected> {
        let inconsistent = Err(Rejected::Malformed(PayloadError::Inconsistent));
        let bytes = p.data;
        let end = start + bytes.len() as u32;
        // The type's restart flag is part of the header the RFC requires to
        // be the same in every packet of a frame; so is the interval, which
        // describes the whole scan.
        if !self.header.same_image(&p.header) || self.restart_interval != restart_interval(p) {
            return inconsistent;
        }
        if tables.is_some() && self.tables.is_some() && tables != self.tables {
            return inconsistent;
        }
        let received_end = self.runs.last().map_or(0, |r| r.1);
        match (marker, self.end) {
            (true, Some(e)) if e != end => return inconsistent,
            (true, None) if received_end > end => return inconsistent,
            (false, Some(e)) if end > e => return inconsistent,
            _ => {}
        }
        // Runs before `first` end before `start`; runs from `last` on start
        // after `end`; those between overlap or touch the new range.
        let first = self.runs.partition_point(|r| r.1 < start);
        let last = self.runs.partition_point(|r| r.0 <= end);
        let touching = self.runs.get(first..last).unwrap_or_default();
        let mut covered = false;
        for &(s, e) in touching {
            let (os, oe) = (s.max(start), e.min(end));
            if os < oe {
                let held = self.data.get(os as usize..oe as usize);
                let new = bytes.get((os - start) as usize..(oe - start) as usize);
                if held != new {
                    return inconsistent;
                }
            }
            covered |= s <= start && end <= e;
        }
        if covered && (!marker || self.end.is_some()) {
            return Err(Rejected::Duplicate);
        }
        if self.runs.len() - touching.len() + 1 > MAX_RUNS_PER_FRAME {
            return Err(Rejected::Malformed(PayloadError::TooFragmented));
        }

        let merged = (
            touching.first().map_or(start, |r| r.0.min(start)),
            touching.last().map_or(end, |r| r.1.max(end)),
        );
        self.runs.splice(first..last, [merged]);
        if self.data.len() < end as usize {
            self.data.resize(end as usize, 0);
        }
        if let Some(dst) = self.data.get_mut(start as usize..end as usize) {
            dst.copy_from_slice(bytes);
        }
        if marker {
            self.end = Some(end);
        }
        if tables.is_some() {
            self.tables = tables;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_compare_across_wraparound() {
        assert!(is_newer(1, 0));
        assert!(is_newer(0, u32::MAX));
        assert!(is_newer(0x100, 0xffff_ff00));
        assert!(!is_newer(0xffff_ff00, 0x100));
        assert!(!is_newer(5, 5));
    }
}
