//! A read-only map of a whole store file, protected against the file
//! shrinking under it (see [`super::fault`]).
//!
//! What a [`Map`] guarantees: reading any byte of it never kills the
//! process. If the file was truncated (or replaced in place) under the map,
//! the bytes past its new end read as zeros and [`Map::faulted`] turns
//! true, after which nothing read from the map is trusted.
//!
//! What remains uncovered, by design or by the platform:
//! - a file truncated to the middle of a page and read there: the kernel
//!   zeroes the rest of that page itself without a signal, so no flag is
//!   set for those bytes. Records (CRC) and non-durable payloads (CRC)
//!   still catch them; a durable payload that ends in such a page is sent
//!   with zeros at its end, and the next read past that page faults and
//!   ends the session (an RTSP session, or an MP4 export, whose body is
//!   then cut short);
//! - a file truncated and then grown again with other bytes before the map
//!   reads them: the new bytes are read without a fault (CRCs as above);
//! - bytes rewritten in place without changing the length: no fault to
//!   see; the store's files are append-only and CRCs catch the rest;
//! - if the kernel cannot map the zero pages (out of memory), the fault is
//!   not contained and the process dies of SIGBUS as before;
//! - more than [`super::fault::MAX_MAPS`] maps at once: the next is refused
//!   (an error, never an unprotected map).

use std::fs::File;
use std::path::Path;

use memmap2::{Advice, Mmap};

use super::error::{StoreError, StoreErrorKind};
use super::fault::{self, Guard};

/// A read-only map of a whole file, registered with the SIGBUS handler.
#[derive(Debug)]
pub struct Map {
    /// Dropped (unregistered) before the map is unmapped: field order.
    /// `None` for an empty file (nothing is readable).
    guard: Option<Guard>,
    /// Invariant: `guard` covers exactly this map while both live.
    mmap: Mmap,
}

impl Map {
    /// Maps `file` (found at `path`, for errors) read-only.
    pub fn new(file: &File, path: &Path) -> Result<Map, StoreError> {
        fault::install()
            .map_err(|e| StoreError::io(path, "install the SIGBUS handler", e.into()))?;
        // SAFETY: the map is read-only and private to the store; another
        // process may still truncate the file under it, which is what the
        // registration below contains (see the module's documentation).
        let mmap = unsafe { Mmap::map(file) }.map_err(|e| StoreError::io(path, "mmap", e))?;
        let guard = if mmap.is_empty() {
            None
        } else {
            // SAFETY: `mmap` is our own mapping of exactly this range and
            // stays mapped until `guard` is dropped (it is dropped first).
            let g = unsafe { Guard::register(mmap.as_ptr() as usize, mmap.len()) };
            Some(g.ok_or_else(|| StoreError::file(path, StoreErrorKind::TooManyMaps))?)
        };
        Ok(Map { guard, mmap })
    }

    /// True once the file shrank under the map: bytes past its new end were
    /// replaced by zeros, and nothing read from the map can be trusted.
    pub fn faulted(&self) -> bool {
        self.guard.as_ref().is_some_and(Guard::faulted)
    }

    /// Reads one byte of every page of `bytes` (a slice of this map), so
    /// that a vanished page faults here, in the process, where the fault is
    /// contained, rather than failing a system call with EFAULT. Returns
    /// [`Map::faulted`] afterwards.
    pub fn touch(&self, bytes: &[u8]) -> bool {
        let step = fault::page_bytes();
        for b in bytes.iter().step_by(step).chain(bytes.last()) {
            core::hint::black_box(*b);
        }
        self.faulted()
    }

    /// Asks the kernel to read `[offset, offset + len_bytes)` ahead. Advice
    /// only: failure changes nothing but speed.
    pub fn will_need(&self, offset: usize, len_bytes: usize) {
        let _ = self.mmap.advise_range(Advice::WillNeed, offset, len_bytes);
    }
}

impl core::ops::Deref for Map {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.mmap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{TempDir, truncate};

    #[test]
    fn reading_past_a_shrunken_file_reads_zeros_and_flags_the_map() {
        let dir = TempDir::new("map-fault");
        let path = dir.0.join("f");
        let page = {
            fault::install().unwrap();
            fault::page_bytes()
        };
        std::fs::write(&path, vec![0xa5u8; 8 * page]).unwrap();
        let file = File::open(&path).unwrap();
        let map = Map::new(&file, &path).unwrap();
        assert_eq!(map[5 * page], 0xa5);
        assert!(!map.faulted());
        truncate(&path, 2 * page as u64);
        // Within the file: still its bytes, no fault.
        assert_eq!(map[2 * page - 1], 0xa5);
        assert!(!map.touch(&map[..2 * page]));
        // Past its new end: zeros instead of SIGBUS, and the map is flagged.
        assert_eq!(map[5 * page], 0);
        assert!(map.faulted());
        assert!(map[2 * page..].iter().all(|&b| b == 0));
        // Dropped and mapped again: a fresh, unflagged map of what is left.
        drop(map);
        let again = Map::new(&file, &path).unwrap();
        assert_eq!(again.len(), 2 * page);
        assert!(!again.faulted());
    }

    #[test]
    fn a_vanished_last_page_of_a_map_is_contained_too() {
        // qemu-arm reports the faulting address one guest base off: a fault
        // in a map's last page was reported past the map and, before the
        // calibration in `fault::install`, killed the process.
        let dir = TempDir::new("map-last-page");
        let path = dir.0.join("f");
        fault::install().unwrap();
        let page = fault::page_bytes();
        for pages in [1usize, 2, 3] {
            std::fs::write(&path, vec![7u8; pages * page]).unwrap();
            let file = File::open(&path).unwrap();
            let map = Map::new(&file, &path).unwrap();
            truncate(&path, ((pages - 1) * page) as u64);
            let last = pages * page - 1;
            assert_eq!(map[last], 0, "{pages} pages");
            assert!(map.faulted(), "{pages} pages");
            assert!(map[(pages - 1) * page..].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn touch_finds_a_vanished_page_that_a_system_call_would_refuse() {
        let dir = TempDir::new("map-touch");
        let path = dir.0.join("f");
        fault::install().unwrap();
        let page = fault::page_bytes();
        std::fs::write(&path, vec![1u8; 4 * page]).unwrap();
        let file = File::open(&path).unwrap();
        let map = Map::new(&file, &path).unwrap();
        truncate(&path, 0);
        // The kernel copying from the vanished pages fails with EFAULT (or
        // copies nothing) rather than signalling.
        let (r, w) = std::io::pipe().unwrap();
        use std::io::Write;
        let sent = (&w).write(&map[page..2 * page]);
        assert!(
            matches!(&sent, Err(e) if e.raw_os_error() == Some(nix::libc::EFAULT)),
            "{sent:?}"
        );
        drop(r);
        assert!(!map.faulted());
        assert!(map.touch(&map[page..3 * page]));
        // Now the same bytes are zeros the kernel can copy.
        let (_r2, w2) = std::io::pipe().unwrap();
        assert_eq!((&w2).write(&map[page..page + 100]).unwrap(), 100);
    }

    #[test]
    fn an_empty_file_maps_without_a_slot() {
        let dir = TempDir::new("map-empty");
        let path = dir.0.join("f");
        std::fs::write(&path, b"").unwrap();
        let map = Map::new(&File::open(&path).unwrap(), &path).unwrap();
        assert!(map.is_empty() && !map.faulted() && !map.touch(&map));
    }
}
