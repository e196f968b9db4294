//! Reading and writing the field types that payloads are built from (integers,
//! names, IP addresses, short texts), with every length checked before it is used.
//!
//! Reading goes through byteorder's `ReadBytesExt` on a shrinking `&[u8]`, so a
//! short payload surfaces as [`WireError::Truncated`] instead of an index panic;
//! writing goes through `WriteBytesExt` on a shrinking `&mut [u8]` whose size
//! was computed by the message's `buffer_len`.

use super::{Name, WireError};
use crate::identity::{PublicKey, PUBLIC_KEY_LEN, SIGNATURE_LEN};
use byteorder::{BigEndian, ReadBytesExt, WriteBytesExt};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The one spelling of an address: an IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`, as a dual-stack socket reports IPv4 peers) is the IPv4
/// address it maps; every other address is itself. The registry, the
/// peer and the wire format compare and store addresses only in this form.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// [`canonical_ip`] of a socket address, the port kept.
pub fn canonical_addr(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(canonical_ip(addr.ip()), addr.port())
}

/// Address family code for IPv4 (followed by 4 address bytes).
pub const FAMILY_IPV4: u8 = 4;
/// Address family code for IPv6 (followed by 16 address bytes).
pub const FAMILY_IPV6: u8 = 6;

/// Longest error text in bytes, so an error frame stays small.
pub const MAX_TEXT_LEN: usize = 256;

/// A cursor over a payload that refuses to read past its end.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(payload: &'a [u8]) -> Self {
        Reader { rest: payload }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, WireError> {
        self.rest.read_u8().map_err(|_| WireError::Truncated)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, WireError> {
        self.rest
            .read_u16::<BigEndian>()
            .map_err(|_| WireError::Truncated)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, WireError> {
        self.rest
            .read_u32::<BigEndian>()
            .map_err(|_| WireError::Truncated)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, WireError> {
        self.rest
            .read_u64::<BigEndian>()
            .map_err(|_| WireError::Truncated)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.rest.len() < n {
            return Err(WireError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// Exactly `N` bytes, as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    /// A public key: 32 bytes that must be a valid Ed25519 point, so a key
    /// no one can hold is refused at the edge ([`WireError::BadKey`]).
    pub(crate) fn public_key(&mut self) -> Result<PublicKey, WireError> {
        let raw = self.array::<PUBLIC_KEY_LEN>()?;
        PublicKey::from_bytes(raw).map_err(|_| WireError::BadKey)
    }

    /// A signature: 64 opaque bytes (checked by the one who verifies it).
    pub(crate) fn signature(&mut self) -> Result<[u8; SIGNATURE_LEN], WireError> {
        self.array::<SIGNATURE_LEN>()
    }

    /// A name: one length byte, then that many bytes of UTF-8.
    pub(crate) fn name(&mut self) -> Result<Name, WireError> {
        let len = usize::from(self.u8()?);
        let raw = self.bytes(len)?;
        Name::from_bytes(raw).map_err(WireError::BadName)
    }

    /// A name that may be absent: a zero length byte means none.
    pub(crate) fn optional_name(&mut self) -> Result<Option<Name>, WireError> {
        if self.rest.first() == Some(&0) {
            self.u8()?;
            return Ok(None);
        }
        self.name().map(Some)
    }

    /// An IP address: a family byte (4 or 6), then 4 or 16 bytes; an
    /// IPv4-mapped IPv6 address comes out as the IPv4 one ([`canonical_ip`]).
    pub(crate) fn ip(&mut self) -> Result<IpAddr, WireError> {
        match self.u8()? {
            FAMILY_IPV4 => {
                let b = self.bytes(4)?;
                Ok(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])))
            }
            FAMILY_IPV6 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(self.bytes(16)?);
                // An IPv4 host written as ::ffff:a.b.c.d is that host: one
                // spelling, so uniqueness and lookups cannot be sidestepped.
                Ok(canonical_ip(IpAddr::V6(Ipv6Addr::from(a))))
            }
            other => Err(WireError::BadAddressFamily(other)),
        }
    }

    /// An IP address followed by a 16-bit port.
    pub(crate) fn socket_addr(&mut self) -> Result<SocketAddr, WireError> {
        let ip = self.ip()?;
        let port = self.u16()?;
        Ok(SocketAddr::new(ip, port))
    }

    /// A short text: a 16-bit length, then that many bytes of UTF-8.
    pub(crate) fn text(&mut self) -> Result<String, WireError> {
        let len = usize::from(self.u16()?);
        if len > MAX_TEXT_LEN {
            return Err(WireError::TextTooLong(len));
        }
        let raw = self.bytes(len)?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| WireError::BadUtf8)
    }

    /// Fails unless every byte of the payload was consumed.
    pub(crate) fn finish(self) -> Result<(), WireError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes(self.rest.len()))
        }
    }
}

/// Encoded size of a name field.
pub(crate) fn name_len(name: &Name) -> usize {
    1 + name.as_str().len()
}

/// Encoded size of an IP address field.
pub(crate) fn ip_len(ip: &IpAddr) -> usize {
    match ip {
        IpAddr::V4(_) => 1 + 4,
        IpAddr::V6(_) => 1 + 16,
    }
}

/// Encoded size of an IP address and port.
pub(crate) fn socket_addr_len(addr: &SocketAddr) -> usize {
    ip_len(&addr.ip()) + 2
}

/// Encoded size of a text field, after truncation to [`MAX_TEXT_LEN`].
pub(crate) fn text_len(text: &str) -> usize {
    2 + clip_text(text).len()
}

/// Cuts `text` to at most [`MAX_TEXT_LEN`] bytes on a character boundary, so an
/// over-long local message still goes out rather than failing the emit.
fn clip_text(text: &str) -> &str {
    if text.len() <= MAX_TEXT_LEN {
        return text;
    }
    let mut end = MAX_TEXT_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A cursor over an output buffer sized by `buffer_len`. Running out of room is
/// a bug in a `buffer_len`, never a property of the input, so it panics.
pub(crate) struct Writer<'a> {
    rest: &'a mut [u8],
}

const SIZED_BY_BUFFER_LEN: &str = "emit buffer smaller than buffer_len";

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Writer { rest: buf }
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.rest.write_u8(v).expect(SIZED_BY_BUFFER_LEN);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.rest
            .write_u16::<BigEndian>(v)
            .expect(SIZED_BY_BUFFER_LEN);
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.rest
            .write_u32::<BigEndian>(v)
            .expect(SIZED_BY_BUFFER_LEN);
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.rest
            .write_u64::<BigEndian>(v)
            .expect(SIZED_BY_BUFFER_LEN);
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.rest.write_all(b).expect(SIZED_BY_BUFFER_LEN);
    }

    pub(crate) fn public_key(&mut self, key: &PublicKey) {
        self.bytes(key.as_bytes());
    }

    pub(crate) fn name(&mut self, name: &Name) {
        let s = name.as_str().as_bytes();
        // Name::new guarantees len <= MAX_NAME_LEN < 256.
        self.u8(s.len() as u8);
        self.bytes(s);
    }

    pub(crate) fn optional_name(&mut self, name: Option<&Name>) {
        match name {
            Some(n) => self.name(n),
            None => self.u8(0),
        }
    }

    pub(crate) fn ip(&mut self, ip: &IpAddr) {
        match ip {
            IpAddr::V4(v4) => {
                self.u8(FAMILY_IPV4);
                self.bytes(&v4.octets());
            }
            IpAddr::V6(v6) => {
                self.u8(FAMILY_IPV6);
                self.bytes(&v6.octets());
            }
        }
    }

    pub(crate) fn socket_addr(&mut self, addr: &SocketAddr) {
        self.ip(&addr.ip());
        self.u16(addr.port());
    }

    pub(crate) fn text(&mut self, text: &str) {
        let t = clip_text(text);
        self.u16(t.len() as u16);
        self.bytes(t.as_bytes());
    }

    /// Bytes left unwritten; zero after a correct emit.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_clipped_on_a_char_boundary() {
        let s = "é".repeat(MAX_TEXT_LEN); // 2 bytes each
        let c = clip_text(&s);
        assert!(c.len() <= MAX_TEXT_LEN);
        assert!(std::str::from_utf8(c.as_bytes()).is_ok());
        assert_eq!(text_len(&s), 2 + MAX_TEXT_LEN);
    }

    #[test]
    fn a_v4_mapped_address_reads_as_ipv4_and_others_as_they_are() {
        let mut mapped = vec![FAMILY_IPV6];
        mapped.extend_from_slice(&"::ffff:127.0.4.1".parse::<Ipv6Addr>().unwrap().octets());
        let mut r = Reader::new(&mapped);
        assert_eq!(r.ip(), Ok(IpAddr::V4(Ipv4Addr::new(127, 0, 4, 1))));
        // A real IPv6 address, and one that only looks IPv4-compatible
        // (::127.0.4.1, deprecated, not mapped), stay IPv6.
        for v6 in ["2001:db8::1", "::127.0.4.1", "::1"] {
            let ip: IpAddr = v6.parse().unwrap();
            assert_eq!(canonical_ip(ip), ip, "{v6}");
        }
        let sa: SocketAddr = "[::ffff:10.0.0.1]:4701".parse().unwrap();
        assert_eq!(canonical_addr(sa), "10.0.0.1:4701".parse().unwrap());
    }

    #[test]
    fn a_key_that_is_not_a_point_is_refused_and_a_short_one_truncated() {
        // y = 2 has no x on the curve: no one holds this key's secret.
        let mut not_a_point = [0u8; PUBLIC_KEY_LEN];
        not_a_point[0] = 2;
        assert_eq!(
            Reader::new(&not_a_point).public_key(),
            Err(WireError::BadKey)
        );
        assert_eq!(
            Reader::new(&[0u8; PUBLIC_KEY_LEN - 1]).public_key(),
            Err(WireError::Truncated)
        );
        assert_eq!(
            Reader::new(&[0u8; SIGNATURE_LEN - 1]).signature(),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn reader_reports_truncation_instead_of_panicking() {
        let mut r = Reader::new(&[FAMILY_IPV6, 1, 2]);
        assert_eq!(r.ip(), Err(WireError::Truncated));
        let mut r = Reader::new(&[5, b'a']);
        assert_eq!(r.name(), Err(WireError::Truncated));
    }
}
