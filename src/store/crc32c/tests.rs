//! Every engine against the `crc` crate's bitwise implementation (a
//! different code path from the table engine it also checks).

use super::{Digest, Engine, checksum, hw};
use crate::test_rng::XorShift;

/// The reference: `crc::CRC_32_ISCSI` bit by bit, no table.
static REFERENCE: crc::Crc<u32, crc::NoTable> =
    crc::Crc::<u32, crc::NoTable>::new(&crc::CRC_32_ISCSI);

/// The engines this machine can run: the table always, the instruction
/// when the CPU has it ([`reports_engine`] says which).
fn engines() -> Vec<Engine> {
    let mut engines = vec![Engine::Table];
    engines.extend(hw::detect().map(Engine::Hardware));
    engines
}

#[test]
fn check_value() {
    for engine in engines() {
        assert_eq!(engine.checksum(b"123456789"), 0xE306_9283, "{engine:?}");
    }
    assert_eq!(checksum(b"123456789"), 0xE306_9283);
}

#[test]
fn empty() {
    for engine in engines() {
        assert_eq!(engine.checksum(&[]), 0, "{engine:?}");
        assert_eq!(Digest::with_engine(engine).finalize(), 0, "{engine:?}");
    }
}

#[test]
fn every_length_and_alignment_matches_reference() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    // 8 spare bytes so that each slice can start at any alignment.
    let buf = rng.bytes(300 + 8);
    for engine in engines() {
        for start in 0..8 {
            for len in 0..=300 {
                let s = &buf[start..start + len];
                assert_eq!(
                    engine.checksum(s),
                    REFERENCE.checksum(s),
                    "{engine:?} start {start} len {len}"
                );
            }
        }
    }
}

#[test]
fn special_contents_match_reference() {
    for fill in [0x00, 0xFF, 0x80, 0x01] {
        let buf = [fill; 300];
        for engine in engines() {
            for len in [1, 7, 8, 9, 28, 32, 300] {
                assert_eq!(
                    engine.checksum(&buf[..len]),
                    REFERENCE.checksum(&buf[..len]),
                    "{engine:?} fill {fill:#x} len {len}"
                );
            }
        }
    }
}

#[test]
fn random_chunkings_match_one_shot() {
    let mut rng = XorShift(0xD1B5_4A32_D192_ED03);
    for _ in 0..200 {
        let len = (rng.next() % 2048) as usize;
        let data = rng.bytes(len);
        let want = REFERENCE.checksum(&data);
        for engine in engines() {
            let mut d = Digest::with_engine(engine);
            let mut rest = &data[..];
            while !rest.is_empty() {
                // Mostly short chunks, some long, some empty.
                let n = (rng.next() % 64) as usize * (1 + (rng.next() % 4) as usize);
                let (chunk, tail) = rest.split_at(n.min(rest.len()));
                d.update(chunk);
                rest = tail;
            }
            assert_eq!(d.finalize(), want, "{engine:?} len {len}");
        }
        let mut d = Digest::new();
        d.update(&data);
        assert_eq!(d.finalize(), checksum(&data));
    }
}

#[test]
fn large_payload_matches_reference() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let data = rng.bytes(20_000 + 3);
    for engine in engines() {
        assert_eq!(
            engine.checksum(&data[3..]),
            REFERENCE.checksum(&data[3..]),
            "{engine:?}"
        );
    }
}

#[test]
fn reports_engine() {
    // On x86_64 (SSE4.2) and under qemu-aarch64 (its default cpu has the CRC
    // extension) this says "hardware"; on armv7 "table". Printed rather
    // than asserted: an Armv8.0 core may lack the extension.
    let engine = Engine::detect();
    eprintln!("crc32c engine on {}: {engine:?}", std::env::consts::ARCH);
    if matches!(engine, Engine::Table) {
        eprintln!("crc32c: no CRC-32C instruction here, hardware path not tested");
    }
}
