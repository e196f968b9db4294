//! SDES, the source description packet (RFC 3550 6.5): per source, a list
//! of typed text items ended by a null byte and padded to a word. We send our
//! CNAME, which ties a peer's audio and video streams together, and read the
//! peer's; other items are kept as they came.

use super::{clip, round_up_to_word, Reader, Writer};
use crate::media::rtp::RtpError;

/// The type of an SDES item (RFC 3550 6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdesItemKind {
    /// Canonical name, `user@host`: ties a peer's streams together.
    Cname,
    /// User name.
    Name,
    /// Email address.
    Email,
    /// Phone number.
    Phone,
    /// Location.
    Loc,
    /// Application or tool name.
    Tool,
    /// Notice or status.
    Note,
    /// Private extension (kept opaque).
    Priv,
    /// A type this version does not know (never 0, which ends an item list).
    Unknown(u8),
}

impl SdesItemKind {
    /// The type code on the wire.
    pub fn code(self) -> u8 {
        match self {
            SdesItemKind::Cname => 1,
            SdesItemKind::Name => 2,
            SdesItemKind::Email => 3,
            SdesItemKind::Phone => 4,
            SdesItemKind::Loc => 5,
            SdesItemKind::Tool => 6,
            SdesItemKind::Note => 7,
            SdesItemKind::Priv => 8,
            SdesItemKind::Unknown(c) => c,
        }
    }

    /// The kind of a nonzero type code.
    pub fn from_code(c: u8) -> Self {
        match c {
            1 => SdesItemKind::Cname,
            2 => SdesItemKind::Name,
            3 => SdesItemKind::Email,
            4 => SdesItemKind::Phone,
            5 => SdesItemKind::Loc,
            6 => SdesItemKind::Tool,
            7 => SdesItemKind::Note,
            8 => SdesItemKind::Priv,
            c => SdesItemKind::Unknown(c),
        }
    }
}

/// One SDES item. The text is kept as bytes: the RFC says UTF-8, but a peer's
/// bad byte should not cost us its whole report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesItem {
    /// The item type.
    pub kind: SdesItemKind,
    /// The text; emit sends at most [`MAX_SDES_TEXT_LEN`](super::MAX_SDES_TEXT_LEN) bytes of it.
    pub text: Vec<u8>,
}

impl SdesItem {
    fn clipped(&self) -> &[u8] {
        clip(&self.text)
    }
}

/// The items describing one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk {
    /// The source described.
    pub ssrc: u32,
    /// Its items, in order.
    pub items: Vec<SdesItem>,
}

impl SdesChunk {
    /// The source's CNAME, if the chunk has one.
    pub fn cname(&self) -> Option<&[u8]> {
        self.items
            .iter()
            .find(|i| i.kind == SdesItemKind::Cname)
            .map(|i| i.text.as_slice())
    }

    pub(super) fn len(&self) -> usize {
        let items: usize = self.items.iter().map(|i| 2 + i.clipped().len()).sum();
        // At least one null byte ends the list, then nulls up to a word boundary.
        4 + round_up_to_word(items + 1)
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<SdesChunk, RtpError> {
        let ssrc = r.u32()?;
        let mut items = Vec::new();
        loop {
            let code = r.u8()?;
            if code == 0 {
                r.skip_to_word()?;
                break;
            }
            let len = usize::from(r.u8()?);
            items.push(SdesItem {
                kind: SdesItemKind::from_code(code),
                text: r.bytes(len)?.to_vec(),
            });
        }
        Ok(SdesChunk { ssrc, items })
    }

    pub(super) fn write(&self, w: &mut Writer<'_>) {
        w.u32(self.ssrc);
        let mut written = 0;
        for item in &self.items {
            let code = item.kind.code();
            assert_ne!(code, 0, "SDES item type 0 would end the item list");
            let text = item.clipped();
            w.u8(code);
            w.u8(text.len() as u8);
            w.bytes(text);
            written += 2 + text.len();
        }
        w.zeros(round_up_to_word(written + 1) - written);
    }
}

/// A source description (PT 202). We send one chunk with our CNAME.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sdes {
    /// One chunk per source described (at most [`MAX_RTCP_COUNT`](super::MAX_RTCP_COUNT)).
    pub chunks: Vec<SdesChunk>,
}

impl Sdes {
    /// One chunk giving `ssrc` the canonical name `cname`.
    pub fn with_cname(ssrc: u32, cname: &str) -> Sdes {
        Sdes {
            chunks: vec![SdesChunk {
                ssrc,
                items: vec![SdesItem {
                    kind: SdesItemKind::Cname,
                    text: cname.as_bytes().to_vec(),
                }],
            }],
        }
    }

    /// The CNAME given for `ssrc`, if any.
    pub fn cname_of(&self, ssrc: u32) -> Option<&[u8]> {
        self.chunks
            .iter()
            .filter(|c| c.ssrc == ssrc)
            .find_map(SdesChunk::cname)
    }
}
