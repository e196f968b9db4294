//! A byte fixture for every payload shape: parse the fixture, compare with
//! the expected value, emit into a buffer pre-filled with 0xa5 (so a byte
//! that emit forgets shows up) and compare with the fixture again.

use super::*;

fn check(fixture: &[u8], payload: Payload<'_>) {
    assert_eq!(Payload::parse(fixture), Ok(payload));
    assert_eq!(payload.buffer_len(), fixture.len());
    let mut buf = vec![0xa5u8; payload.buffer_len()];
    payload.emit(&mut buf);
    assert_eq!(buf, fixture, "emit of {payload:?}");
}

/// 128 distinct table bytes, so a swapped or shifted table shows.
fn tables() -> Vec<u8> {
    (1..=128).collect()
}

#[test]
fn first_fragment_with_in_band_tables() {
    let mut fx = vec![
        0x00, 0x00, 0x00, 0x00, // type-specific 0, fragment offset 0
        0x01, 0xff, 40, 30, // type 1 (4:2:0), Q 255, 320x240
        0x00, 0x00, 0x00, 0x80, // MBZ, precision 0 (8-bit), length 128
    ];
    fx.extend_from_slice(&tables());
    fx.extend_from_slice(&[0x12, 0x34, 0xff, 0x00]);
    let t = tables();
    check(
        &fx,
        Payload {
            header: MainHeader {
                type_specific: 0,
                fragment_offset: 0,
                subsampling: Subsampling::Yuv420,
                q: 255,
                width_blocks: 40,
                height_blocks: 30,
            },
            restart: None,
            quant_tables: Some(&t),
            data: &[0x12, 0x34, 0xff, 0x00],
        },
    );
}

#[test]
fn later_fragment_has_no_table_header() {
    check(
        &[
            0x02, 0x01, 0x05, 0xb4, // type-specific 2 (even field), offset 0x0105b4
            0x00, 0xff, 8, 6, // type 0 (4:2:2), Q 255, 64x48
            0xaa, 0xbb, 0xcc,
        ],
        Payload {
            header: MainHeader {
                type_specific: 2,
                fragment_offset: 0x0105b4,
                subsampling: Subsampling::Yuv422,
                q: 255,
                width_blocks: 8,
                height_blocks: 6,
            },
            restart: None,
            quant_tables: None,
            data: &[0xaa, 0xbb, 0xcc],
        },
    );
}

#[test]
fn scaled_q_first_fragment_has_no_table_header() {
    check(
        &[0x00, 0x00, 0x00, 0x00, 0x01, 75, 255, 255, 0x42],
        Payload {
            header: MainHeader {
                type_specific: 0,
                fragment_offset: 0,
                subsampling: Subsampling::Yuv420,
                q: 75,
                width_blocks: 255,
                height_blocks: 255,
            },
            restart: None,
            quant_tables: None,
            data: &[0x42],
        },
    );
}

#[test]
fn static_q_may_omit_its_tables() {
    check(
        &[
            0x00, 0x00, 0x00, 0x00, 0x00, 200, 1, 1, // Q 200, 8x8
            0x00, 0x00, 0x00, 0x00, // length 0: the tables Q 200 had before
            0x99,
        ],
        Payload {
            header: MainHeader {
                type_specific: 0,
                fragment_offset: 0,
                subsampling: Subsampling::Yuv422,
                q: 200,
                width_blocks: 1,
                height_blocks: 1,
            },
            restart: None,
            quant_tables: Some(&[]),
            data: &[0x99],
        },
    );
}

#[test]
fn largest_offset_round_trips() {
    check(
        &[0x00, 0xff, 0xff, 0xff, 0x01, 0xff, 1, 1, 0x00],
        Payload {
            header: MainHeader {
                type_specific: 0,
                fragment_offset: MAX_FRAGMENT_OFFSET,
                subsampling: Subsampling::Yuv420,
                q: 255,
                width_blocks: 1,
                height_blocks: 1,
            },
            restart: None,
            quant_tables: None,
            data: &[0x00],
        },
    );
}

#[test]
fn first_fragment_with_one_shared_table() {
    let mut fx = vec![
        0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 8, 6, // type 1, Q 255, 64x48
        0x00, 0x00, 0x00, 0x40, // length 64: one table for all components
    ];
    fx.extend_from_slice(&tables()[..64]);
    fx.push(0x5a);
    let t = tables();
    check(
        &fx,
        Payload {
            header: MainHeader {
                type_specific: 0,
                fragment_offset: 0,
                subsampling: Subsampling::Yuv420,
                q: 255,
                width_blocks: 8,
                height_blocks: 6,
            },
            restart: None,
            quant_tables: Some(&t[..64]),
            data: &[0x5a],
        },
    );
}

#[test]
fn first_fragment_with_restart_marker_header() {
    let mut fx = vec![
        0x00, 0x00, 0x00, 0x00, // type-specific 0, fragment offset 0
        0x41, 0xff, 40, 30, // type 65 (4:2:0 with restarts), Q 255, 320x240
        0x00, 0x14, 0xff, 0xff, // restart interval 20, F 1, L 1, count 0x3fff
        0x00, 0x00, 0x00, 0x80, // MBZ, precision 0 (8-bit), length 128
    ];
    fx.extend_from_slice(&tables());
    fx.extend_from_slice(&[0x12, 0xff, 0xd0, 0x34]);
    let t = tables();
    check(
        &fx,
        Payload {
            header: MainHeader {
                type_specific: 0,
                fragment_offset: 0,
                subsampling: Subsampling::Yuv420,
                q: 255,
                width_blocks: 40,
                height_blocks: 30,
            },
            restart: Some(RestartHeader {
                interval: 20,
                first: true,
                last: true,
                count: RESTART_COUNT_WHOLE_FRAME,
            }),
            quant_tables: Some(&t),
            data: &[0x12, 0xff, 0xd0, 0x34],
        },
    );
}

#[test]
fn later_fragment_with_restart_marker_header() {
    check(
        &[
            0x00, 0x00, 0x05, 0xb4, // type-specific 0, offset 0x0005b4
            0x40, 0xff, 8, 6, // type 64 (4:2:2 with restarts), Q 255, 64x48
            0x01, 0x02, 0x80, 0x05, // interval 0x0102, F 1, L 0, count 5
            0xaa, 0xff, 0xd7,
        ],
        Payload {
            header: MainHeader {
                type_specific: 0,
                fragment_offset: 0x05b4,
                subsampling: Subsampling::Yuv422,
                q: 255,
                width_blocks: 8,
                height_blocks: 6,
            },
            restart: Some(RestartHeader {
                interval: 0x0102,
                first: true,
                last: false,
                count: 5,
            }),
            quant_tables: None,
            data: &[0xaa, 0xff, 0xd7],
        },
    );
    // L alone, and the largest count that is not "whole frame".
    check(
        &[
            0x00, 0x00, 0x00, 0x10, 0x41, 0xff, 1, 1, 0xff, 0xff, 0x7f, 0xfe, 0x00,
        ],
        Payload {
            header: MainHeader {
                type_specific: 0,
                fragment_offset: 0x10,
                subsampling: Subsampling::Yuv420,
                q: 255,
                width_blocks: 1,
                height_blocks: 1,
            },
            restart: Some(RestartHeader {
                interval: 0xffff,
                first: false,
                last: true,
                count: 0x3ffe,
            }),
            quant_tables: None,
            data: &[0x00],
        },
    );
}
