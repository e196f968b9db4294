//! The tables RFC 2435 leaves out of the packets because both ends know them:
//! the standard Huffman tables of JPEG Annex K.3, the example quantization
//! tables of Annex K.1/K.2 that Q values 1..=99 scale, and the JPEG headers a
//! receiver puts back in front of the scan (appendix B's `MakeHeaders`).

use super::Subsampling;

/// The luma and chroma quantization tables of one frame, each 64 values in
/// zig-zag order exactly as a JPEG DQT segment and an RFC 2435 quantization
/// table header hold them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuantTables {
    /// Table 0, used by the Y component.
    pub luma: [u8; 64],
    /// Table 1, shared by the Cb and Cr components.
    pub chroma: [u8; 64],
}

impl QuantTables {
    /// Tables from the data of an in-band quantization table header: 128
    /// bytes (luma, then chroma), or 64 bytes of one table for both;
    /// `None` for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Option<QuantTables> {
        let (luma, chroma) = bytes.split_first_chunk::<64>()?;
        Some(QuantTables {
            luma: *luma,
            chroma: match chroma {
                [] => *luma,
                _ => chroma.try_into().ok()?,
            },
        })
    }

    /// The 128 bytes an in-band quantization table header carries.
    pub fn to_bytes(&self) -> [u8; 128] {
        let mut out = [0u8; 128];
        let (luma, chroma) = out.split_at_mut(64);
        luma.copy_from_slice(&self.luma);
        chroma.copy_from_slice(&self.chroma);
        out
    }
}

/// Position in natural (row-major) order of each zig-zag coefficient.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// JPEG Annex K.1, luminance, natural order.
const K1_LUMA: [u8; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, //
    12, 12, 14, 19, 26, 58, 60, 55, //
    14, 13, 16, 24, 40, 57, 69, 56, //
    14, 17, 22, 29, 51, 87, 80, 62, //
    18, 22, 37, 56, 68, 109, 103, 77, //
    24, 35, 55, 64, 81, 104, 113, 92, //
    49, 64, 78, 87, 103, 121, 120, 101, //
    72, 92, 95, 98, 112, 100, 103, 99,
];

/// JPEG Annex K.2, chrominance, natural order.
const K2_CHROMA: [u8; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, //
    18, 21, 26, 66, 99, 99, 99, 99, //
    24, 26, 56, 99, 99, 99, 99, 99, //
    47, 66, 99, 99, 99, 99, 99, 99, //
    99, 99, 99, 99, 99, 99, 99, 99, //
    99, 99, 99, 99, 99, 99, 99, 99, //
    99, 99, 99, 99, 99, 99, 99, 99, //
    99, 99, 99, 99, 99, 99, 99, 99,
];

/// The tables a Q value of 1..=99 stands for: RFC 2435 appendix A
/// `MakeTables`, which is also libjpeg's quality scaling, so a libjpeg image
/// made at quality Q has exactly these tables. Values outside 1..=99 are
/// clamped as `MakeTables` does. The RFC's listing indexes the Annex K tables
/// in natural order; its errata (and every implementation) emit zig-zag order,
/// which is what DQT expects, and so does this.
pub fn make_tables(q: u8) -> QuantTables {
    let factor = u32::from(q.clamp(1, 99));
    let scale = if factor < 50 {
        5000 / factor
    } else {
        200 - factor * 2
    };
    let scaled = |base: u8| -> u8 {
        let v = (u32::from(base) * scale + 50) / 100;
        // Clamped to 1..=255, so the narrowing cannot lose anything.
        v.clamp(1, 255) as u8
    };
    let mut tables = QuantTables {
        luma: [0; 64],
        chroma: [0; 64],
    };
    for (i, &natural) in ZIGZAG.iter().enumerate() {
        tables.luma[i] = scaled(K1_LUMA[natural]);
        tables.chroma[i] = scaled(K2_CHROMA[natural]);
    }
    tables
}

/// One Huffman table as a DHT segment holds it: code counts per length 1..=16,
/// then the symbols.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct HuffmanTable {
    pub(crate) counts: [u8; 16],
    pub(crate) symbols: &'static [u8],
}

const DC_SYMBOLS: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

/// Annex K.3.1, table K.3: luminance DC.
pub(crate) const LUMA_DC: HuffmanTable = HuffmanTable {
    counts: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
    symbols: &DC_SYMBOLS,
};

/// Annex K.3.1, table K.4: chrominance DC.
pub(crate) const CHROMA_DC: HuffmanTable = HuffmanTable {
    counts: [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
    symbols: &DC_SYMBOLS,
};

/// Annex K.3.2, table K.5: luminance AC.
pub(crate) const LUMA_AC: HuffmanTable = HuffmanTable {
    counts: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
    symbols: &[
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61,
        0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52,
        0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25,
        0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45,
        0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64,
        0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83,
        0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
        0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6,
        0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3,
        0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8,
        0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ],
};

/// Annex K.3.2, table K.6: chrominance AC.
pub(crate) const CHROMA_AC: HuffmanTable = HuffmanTable {
    counts: [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
    symbols: &[
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61,
        0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33,
        0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18,
        0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44,
        0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63,
        0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a,
        0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
        0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4,
        0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca,
        0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7,
        0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ],
};

/// JPEG marker codes used on both sides.
pub(crate) mod marker {
    pub(crate) const SOF0: u8 = 0xc0;
    pub(crate) const DHT: u8 = 0xc4;
    pub(crate) const RST0: u8 = 0xd0;
    pub(crate) const RST7: u8 = 0xd7;
    pub(crate) const SOI: u8 = 0xd8;
    pub(crate) const EOI: u8 = 0xd9;
    pub(crate) const SOS: u8 = 0xda;
    pub(crate) const DQT: u8 = 0xdb;
    pub(crate) const DRI: u8 = 0xdd;
    pub(crate) const TEM: u8 = 0x01;
}

/// Length of what [`write_headers`] writes without a restart interval: SOI,
/// two DQT, SOF0, four DHT, SOS.
pub(crate) const HEADERS_LEN: usize =
    2 + 2 * (4 + 65) + 19 + 2 * (5 + 16 + 12) + 2 * (5 + 16 + 162) + 14;
/// Length of the DRI segment [`write_headers`] adds for a restart interval.
pub(crate) const DRI_SEGMENT_LEN: usize = 6;

/// Writes the JPEG headers that go in front of an RFC 2435 scan, as appendix
/// B's `MakeHeaders` lays them out: component ids 0, 1 and 2, luma on
/// quantization and Huffman tables 0, chroma on 1, and, when
/// `restart_interval` is not 0 (`MakeHeaders`' `dri`), a DRI segment between
/// the DQT and SOF0 segments.
pub(crate) fn write_headers(
    out: &mut Vec<u8>,
    subsampling: Subsampling,
    width: u16,
    height: u16,
    restart_interval: u16,
    tables: &QuantTables,
) {
    out.extend_from_slice(&[0xff, marker::SOI]);
    for (id, table) in [(0u8, &tables.luma), (1u8, &tables.chroma)] {
        out.extend_from_slice(&[0xff, marker::DQT, 0, 67, id]);
        out.extend_from_slice(table);
    }
    if restart_interval != 0 {
        out.extend_from_slice(&[0xff, marker::DRI, 0, 4]);
        out.extend_from_slice(&restart_interval.to_be_bytes());
    }
    out.extend_from_slice(&[0xff, marker::SOF0, 0, 17, 8]);
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&[3, 0, subsampling.luma_sampling(), 0]);
    out.extend_from_slice(&[1, 0x11, 1, 2, 0x11, 1]);
    for (class_and_id, table) in [
        (0x00, &LUMA_DC),
        (0x10, &LUMA_AC),
        (0x01, &CHROMA_DC),
        (0x11, &CHROMA_AC),
    ] {
        // At most 3 + 16 + 162 bytes, so the length fits the low byte.
        let len = 3 + table.counts.len() + table.symbols.len();
        out.extend_from_slice(&[0xff, marker::DHT, 0, len as u8, class_and_id]);
        out.extend_from_slice(&table.counts);
        out.extend_from_slice(table.symbols);
    }
    out.extend_from_slice(&[
        0xff,
        marker::SOS,
        0,
        12,
        3,
        0,
        0x00,
        1,
        0x11,
        2,
        0x11,
        0,
        63,
        0,
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_is_a_permutation() {
        let mut seen = [false; 64];
        for &i in &ZIGZAG {
            assert!(!seen[i]);
            seen[i] = true;
        }
    }

    #[test]
    fn q50_is_annex_k_in_zigzag_order() {
        let t = make_tables(50);
        assert_eq!(&t.luma[..8], &[16, 11, 12, 14, 12, 10, 16, 14]);
        assert_eq!(&t.chroma[..8], &[17, 18, 18, 24, 21, 24, 47, 26]);
        assert_eq!(t.luma[63], 99);
        // Extremes clamp instead of overflowing a byte or reaching zero.
        assert!(make_tables(1).luma.iter().all(|&v| v == 255 || v > 200));
        assert!(make_tables(99).luma.iter().all(|&v| v == 1 || v == 2));
        assert_eq!(make_tables(0), make_tables(1));
        assert_eq!(make_tables(255), make_tables(99));
    }

    #[test]
    fn huffman_tables_are_self_consistent() {
        for t in [&LUMA_DC, &LUMA_AC, &CHROMA_DC, &CHROMA_AC] {
            let n: usize = t.counts.iter().map(|&c| usize::from(c)).sum();
            assert_eq!(n, t.symbols.len());
        }
    }

    #[test]
    fn headers_have_the_advertised_length() {
        let mut out = Vec::new();
        write_headers(&mut out, Subsampling::Yuv420, 320, 240, 0, &make_tables(75));
        assert_eq!(out.len(), HEADERS_LEN);
        assert_eq!(HEADERS_LEN, 605);
        out.clear();
        write_headers(
            &mut out,
            Subsampling::Yuv420,
            320,
            240,
            20,
            &make_tables(75),
        );
        assert_eq!(out.len(), HEADERS_LEN + DRI_SEGMENT_LEN);
        // MakeDRIHeader's bytes, after SOI and the two DQT segments.
        let dri = 2 + 2 * (4 + 65);
        assert_eq!(&out[dri..dri + DRI_SEGMENT_LEN], &[0xff, 0xdd, 0, 4, 0, 20]);
    }
}
