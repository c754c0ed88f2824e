//! The on-disk decoders, directly: index header, payload file header and
//! index records. The first byte is a flag: odd = first fix up every CRC so
//! the fuzzer gets past them to the fields (even = bytes as they come).
#![no_main]

use ctrtspd::store::crc32c;
use ctrtspd::store::layout::{IDX_FIXED_LEN, IdxHeader, RECORD_LEN, Record, decode_dat_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let mut buf = bytes.to_vec();
    if flags & 1 == 1 {
        fix_idx_header_crc(&mut buf);
        // The same bytes as a payload file header and as records.
        fix_crc_at(&mut buf, 0, 28);
    }
    if let Ok(h) = IdxHeader::decode(&buf) {
        assert!(h.header_len_bytes <= buf.len());
        assert_eq!(h.header_len_bytes % RECORD_LEN, 0);
        let _ = h.params.iter().count();
    }
    let _ = decode_dat_header(&buf);
    for chunk in buf.chunks_mut(RECORD_LEN) {
        if flags & 1 == 1 {
            fix_crc_at(chunk, 0, 28);
        }
        if let Ok(Record::Frame(f)) = Record::decode(chunk) {
            let _ = f.payload_range();
        }
    }
});

/// Writes the CRC of `b[start..end]` at `b[end..end + 4]`, if it fits.
fn fix_crc_at(b: &mut [u8], start: usize, end: usize) {
    let Some(covered) = b.get(start..end) else {
        return;
    };
    let crc = crc32c::checksum(covered).to_le_bytes();
    if let Some(at) = b.get_mut(end..end + 4) {
        at.copy_from_slice(&crc);
    }
}

/// The index header's CRC covers its first 60 bytes and the parameter block
/// whose length is at offset 40.
fn fix_idx_header_crc(b: &mut [u8]) {
    let Some(len) = b.get(40..42) else { return };
    let params_len = usize::from(u16::from_le_bytes([len[0], len[1]]));
    let Some(block) = b.get(IDX_FIXED_LEN..IDX_FIXED_LEN + params_len) else {
        return;
    };
    let mut d = crc32c::Digest::new();
    d.update(&b[..60]);
    d.update(block);
    let crc = d.finalize().to_le_bytes();
    b[60..64].copy_from_slice(&crc);
}
