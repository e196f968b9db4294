//! The codecs a peercall call uses, as small safe types over the system
//! libraries: JPEG encoding straight from the synthetic camera's planar YUV
//! 4:2:0 and decoding back to YUV with libjpeg-turbo (no RGB round trip),
//! and Opus voice encoding with in-band FEC plus decoding with FEC recovery
//! and packet loss concealment with libopus. The library crate `peercall`
//! stays free of C dependencies; the peer binary uses these.

pub mod jpeg;
pub mod opus;
