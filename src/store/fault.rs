//! Containing SIGBUS from the store's maps (Linux platform code).
//!
//! Another process may truncate a segment file under a live read-only map
//! (a foreign tool, an administrator, a damaged file system): touching a
//! page past the file's new end then raises SIGBUS, whose default action
//! kills the process, every session with it. The store cannot prevent the
//! truncation; it contains the fault:
//!
//! - every map is entered in a process-wide [`Registry`] of fixed capacity
//!   (atomics only: the signal handler reads it without locks or
//!   allocation) while it lives ([`Guard`]);
//! - one SIGBUS handler ([`install`]) looks the faulting address up; inside
//!   a registered map it maps anonymous zero pages (`MAP_FIXED`) from the
//!   faulting page to the end of that map, sets the map's `faulted` flag
//!   and returns, so the faulting read completes and reads zeros;
//!   elsewhere it puts back the action that was there before (the default,
//!   or std's stack-overflow reporter) and returns, so the fault happens
//!   again and is handled as it would have been without us;
//! - readers check the flag after touching bytes ([`Guard::faulted`]) and
//!   give up on the segment: zeros are never mistaken for recorded data
//!   (and record and payload CRCs would catch them anyway).
//!
//! The kernel itself reading a vanished page (`writev`, `sendmmsg` of a map
//! slice) does not raise a signal: the system call fails with EFAULT (or
//! stops short). The sender then touches the slices itself
//! ([`super::map::Map::touch`]), which raises the signal handled here.
//!
//! Why zero pages from the faulting page to the end of the map: a file
//! shrinks from its end, so every page after a vanished one vanished too;
//! one signal per map instead of one per page. If the same map faults
//! again (the reported address was past the faulting one), the whole map
//! is zero-filled: it is flagged anyway, nothing read from it is trusted
//! any more.
//!
//! The reported address is calibrated once, at [`install`]: a probe map of
//! a two-page memory file whose second page is cut off is read there, and
//! the difference between the address read and the one the signal reports
//! is subtracted from every later report. On hardware and under
//! qemu-aarch64 it is 0. qemu-arm 7.2 on a 64-bit host reports the host
//! address truncated to 32 bits, which is off by its guest base (one page
//! here): a fault in the last page of a map was reported past the map and
//! killed the process.

use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::OnceLock;

use nix::libc;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal};

/// Maps that can be registered at once. Each segment holds two (index and
/// payload), plus the older payload maps still held by frames in flight
/// after a segment grew; 4096 leave room for well over a thousand segments
/// played at once. A map beyond this is refused (never made unprotected).
pub const MAX_MAPS: usize = 4096;

const FREE: u8 = 0;
/// Being filled or emptied: the handler skips it.
const BUSY: u8 = 1;
const LIVE: u8 = 2;

/// One registered address range. Written only by the thread that owns the
/// slot (claimed by a `FREE` → `BUSY` exchange); `state` published with
/// release ordering after `start`/`end`, read with acquire ordering.
struct Slot {
    state: AtomicU8,
    start: AtomicUsize,
    end: AtomicUsize,
    faulted: AtomicBool,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            state: AtomicU8::new(FREE),
            start: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
            faulted: AtomicBool::new(false),
        }
    }
}

/// Address ranges of live maps, searchable from a signal handler: a fixed
/// array of atomics, no lock, no allocation.
///
/// A slot being freed by one thread while the handler reads it on another
/// may be seen with its old range for an instant; harmless: the handler
/// acts only on the faulting address, which lies in a map the faulting
/// thread is reading and so keeps alive (and registered).
pub struct Registry<const N: usize> {
    slots: [Slot; N],
    /// Where the next search for a free slot starts (a hint only).
    next_free: AtomicUsize,
}

impl<const N: usize> Default for Registry<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Registry<N> {
    /// An empty registry.
    pub const fn new() -> Self {
        Registry {
            slots: [const { Slot::new() }; N],
            next_free: AtomicUsize::new(0),
        }
    }

    /// Enters `[start, end)`; `None` when every slot is taken.
    pub fn register(&self, start: usize, end: usize) -> Option<usize> {
        let from = self.next_free.load(Ordering::Relaxed);
        for k in 0..N {
            let i = (from + k) % N;
            let Some(slot) = self.slots.get(i) else {
                continue;
            };
            if slot
                .state
                .compare_exchange(FREE, BUSY, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                slot.start.store(start, Ordering::Relaxed);
                slot.end.store(end, Ordering::Relaxed);
                slot.faulted.store(false, Ordering::Relaxed);
                slot.state.store(LIVE, Ordering::Release);
                self.next_free.store((i + 1) % N, Ordering::Relaxed);
                return Some(i);
            }
        }
        None
    }

    /// Frees slot `i` (its map is about to be unmapped).
    pub fn unregister(&self, i: usize) {
        if let Some(slot) = self.slots.get(i) {
            slot.state.store(BUSY, Ordering::Release);
            slot.start.store(0, Ordering::Relaxed);
            slot.end.store(0, Ordering::Relaxed);
            slot.state.store(FREE, Ordering::Release);
            self.next_free.store(i, Ordering::Relaxed);
        }
    }

    /// The live slot whose range holds `addr`: `(slot, start, end)`.
    /// Async-signal-safe (atomic loads only).
    pub fn find(&self, addr: usize) -> Option<(usize, usize, usize)> {
        self.slots.iter().enumerate().find_map(|(i, slot)| {
            if slot.state.load(Ordering::Acquire) != LIVE {
                return None;
            }
            let (start, end) = (
                slot.start.load(Ordering::Relaxed),
                slot.end.load(Ordering::Relaxed),
            );
            (start <= addr && addr < end).then_some((i, start, end))
        })
    }

    /// Records that slot `i`'s map lost pages.
    pub fn mark_faulted(&self, i: usize) {
        if let Some(slot) = self.slots.get(i) {
            slot.faulted.store(true, Ordering::Release);
        }
    }

    /// True once slot `i`'s map lost pages.
    pub fn faulted(&self, i: usize) -> bool {
        self.slots
            .get(i)
            .is_some_and(|s| s.faulted.load(Ordering::Acquire))
    }
}

/// The registry the handler searches.
static REGISTRY: Registry<MAX_MAPS> = Registry::new();

/// The system's page size, set by [`install`] before the handler is.
static PAGE_BYTES: AtomicUsize = AtomicUsize::new(4096);

/// What the kernel (or emulator) adds to a faulting address in the
/// `si_addr` it reports, measured by [`calibrate`] (wrapping arithmetic).
static ADDR_BIAS: AtomicUsize = AtomicUsize::new(0);

/// While [`calibrate`] runs: the address its probe reads (0 otherwise).
static PROBE_AT: AtomicUsize = AtomicUsize::new(0);

/// The `si_addr` reported for the probe's fault (0 until it faults).
static PROBE_REPORTED: AtomicUsize = AtomicUsize::new(0);

/// The SIGBUS action in place before ours, put back for faults that are
/// not ours. Set right after ours is installed (a fault outside every map
/// in between falls back to the default action, which is what it was
/// unless std's stack-overflow reporter had been installed).
static PREVIOUS: OnceLock<SigAction> = OnceLock::new();

/// Why the handler could not be installed.
pub type InstallError = nix::errno::Errno;

/// Installs the SIGBUS handler once for the process; later calls return
/// the first outcome. Every map the store makes calls this first
/// ([`super::map::Map::new`]), so every reader of the store (server,
/// `inspect`, `verify`, a recorder) is covered without a call of its own.
pub fn install() -> Result<(), InstallError> {
    static OUTCOME: OnceLock<Result<(), InstallError>> = OnceLock::new();
    *OUTCOME.get_or_init(|| {
        // SAFETY: sysconf(3) with a valid name has no precondition.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page = usize::try_from(page)
            .ok()
            .filter(|p| p.is_power_of_two())
            .ok_or(nix::errno::Errno::EINVAL)?;
        PAGE_BYTES.store(page, Ordering::Relaxed);
        let ours = SigAction::new(
            SigHandler::SigAction(on_sigbus),
            // On the alternate stack when the thread has one (std gives the
            // main thread one for its overflow reporter).
            SaFlags::SA_SIGINFO | SaFlags::SA_ONSTACK,
            SigSet::empty(),
        );
        // SAFETY: `on_sigbus` is async-signal-safe: it reads atomics and the
        // `siginfo_t` the kernel passes, and calls only mmap(2) and
        // sigaction(2), both async-signal-safe; it allocates nothing and
        // takes no lock.
        let previous = unsafe { nix::sys::signal::sigaction(Signal::SIGBUS, &ours) }?;
        let _ = PREVIOUS.set(previous);
        calibrate(page)?;
        Ok(())
    })
}

/// Measures [`ADDR_BIAS`]: maps two pages of a memory file, cuts the file
/// to one page and reads the second; the handler, in probe mode, notes the
/// address reported, maps a zero page there and returns. Runs inside
/// [`install`] before any store map exists, so no other fault can meet
/// the probe mode.
fn calibrate(page: usize) -> Result<(), InstallError> {
    use std::os::fd::AsRawFd;
    let fd = nix::sys::memfd::memfd_create(
        c"ctrtspd-sigbus-probe",
        nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
    )?;
    let two = page.checked_mul(2).ok_or(nix::errno::Errno::EINVAL)?;
    let as_off = |n: usize| libc::off_t::try_from(n).map_err(|_| nix::errno::Errno::EINVAL);
    nix::unistd::ftruncate(&fd, as_off(two)?)?;
    // SAFETY: a fresh shared read-only map of our own memory file; nothing
    // else knows its address; it is unmapped below.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            two,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(nix::errno::Errno::last());
    }
    let base = p as usize;
    let outcome = nix::unistd::ftruncate(&fd, as_off(page)?).map(|()| {
        let probe = base.wrapping_add(page);
        PROBE_AT.store(probe, Ordering::SeqCst);
        // SAFETY: `probe` is inside the map made above; its page vanished,
        // so the read faults, and the handler (probe mode) maps a zero page
        // there before the read runs again.
        let _ = unsafe { core::ptr::read_volatile(probe as *const u8) };
        PROBE_AT.store(0, Ordering::SeqCst);
        let reported = PROBE_REPORTED.load(Ordering::SeqCst);
        // A read that did not fault (reported 0) leaves the bias at 0.
        if reported != 0 {
            ADDR_BIAS.store(reported.wrapping_sub(probe), Ordering::SeqCst);
        }
    });
    // SAFETY: the map made above, no longer used.
    unsafe { libc::munmap(p, two) };
    outcome
}

/// The address this process can see that was reported as `si_addr`.
pub fn reported_to_actual(si_addr: usize) -> usize {
    si_addr.wrapping_sub(ADDR_BIAS.load(Ordering::Relaxed))
}

/// The page size the registry rounds maps to.
pub fn page_bytes() -> usize {
    PAGE_BYTES.load(Ordering::Relaxed)
}

/// A registered map's place in the registry; unregisters on drop.
///
/// Invariant: the range given to [`Guard::register`] stays mapped (or is
/// replaced by the handler's zero pages) until the guard is dropped.
#[derive(Debug)]
pub struct Guard {
    slot: usize,
}

impl Guard {
    /// Registers the map at `[start, start + len_bytes)`, rounded up to whole
    /// pages (the last page of a file is mapped whole); `None` when the
    /// registry is full.
    ///
    /// # Safety
    ///
    /// The range must be a mapping owned by the caller that stays mapped
    /// until the guard is dropped, and nothing else may be mapped there
    /// meanwhile: on a fault inside it, the handler replaces its pages
    /// from the faulting one to the end with zero pages.
    pub unsafe fn register(start: usize, len_bytes: usize) -> Option<Guard> {
        let page = page_bytes();
        let end = start.checked_add(len_bytes.checked_next_multiple_of(page)?)?;
        REGISTRY.register(start, end).map(|slot| Guard { slot })
    }

    /// True once a page of the map vanished (its file shrank) and was
    /// replaced by zeros: nothing read from the map can be trusted since.
    pub fn faulted(&self) -> bool {
        REGISTRY.faulted(self.slot)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        REGISTRY.unregister(self.slot);
    }
}

/// The SIGBUS handler (see the module's documentation).
extern "C" fn on_sigbus(_signal: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    let saved_errno = nix::errno::Errno::last_raw();
    // SAFETY: with SA_SIGINFO the kernel passes a valid `siginfo_t`; for
    // SIGBUS `si_addr` is the faulting address.
    let reported = unsafe { info.as_ref().map_or(0, |i| i.si_addr() as usize) };
    let probe = PROBE_AT.load(Ordering::SeqCst);
    if probe != 0 {
        PROBE_REPORTED.store(reported, Ordering::SeqCst);
        // SAFETY: the probe's own vanished page (see `calibrate`).
        let p = unsafe {
            libc::mmap(
                (probe & !(page_bytes() - 1)) as *mut libc::c_void,
                page_bytes(),
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            restore_previous();
        }
        nix::errno::Errno::set_raw(saved_errno);
        return;
    }
    let addr = reported_to_actual(reported);
    let contained = REGISTRY.find(addr).is_some_and(|(slot, start, end)| {
        // A second fault in a map already zero-filled from the reported
        // address means the address was not the faulting one (qemu-arm
        // reports the page after it): the whole map goes to zeros.
        let from = if REGISTRY.faulted(slot) { start } else { addr };
        zero_fill(slot, from, end)
    });
    if !contained {
        restore_previous();
    }
    nix::errno::Errno::set_raw(saved_errno);
}

/// Puts back the action that was in place before ours (or the default):
/// the faulting access runs again when the handler returns and meets it.
fn restore_previous() {
    let previous = PREVIOUS
        .get()
        .copied()
        .unwrap_or_else(|| SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty()));
    // SAFETY: sigaction(2) is async-signal-safe; the action is one the
    // process had (or the default).
    let _ = unsafe { nix::sys::signal::sigaction(Signal::SIGBUS, &previous) };
}

/// Maps zero pages over `[page of from, end)` of registered map `slot`
/// and flags it; false if that failed (the fault is then not contained).
fn zero_fill(slot: usize, from: usize, end: usize) -> bool {
    let page = page_bytes();
    let from = from & !(page - 1);
    let Some(len) = end.checked_sub(from).filter(|l| *l > 0) else {
        return false;
    };
    // SAFETY: `[from, end)` lies inside a registered map (page aligned at
    // both ends), which by `Guard::register`'s contract belongs to a live
    // `Map` of the store and nothing else: replacing its pages with private
    // zero pages changes only what that map reads (zeros instead of a
    // vanished file), and its owner unmaps the whole range as before.
    let p = unsafe {
        libc::mmap(
            from as *mut libc::c_void,
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return false;
    }
    REGISTRY.mark_faulted(slot);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_finds_live_ranges_only() {
        let r: Registry<4> = Registry::new();
        let a = r.register(0x1000, 0x3000).unwrap();
        let b = r.register(0x8000, 0x9000).unwrap();
        assert_eq!(r.find(0x1000), Some((a, 0x1000, 0x3000)));
        assert_eq!(r.find(0x2fff), Some((a, 0x1000, 0x3000)));
        assert_eq!(r.find(0x3000), None);
        assert_eq!(r.find(0x8800), Some((b, 0x8000, 0x9000)));
        assert_eq!(r.find(0), None);
        r.mark_faulted(b);
        assert!(r.faulted(b) && !r.faulted(a));
        r.unregister(b);
        assert_eq!(r.find(0x8800), None);
        // A reused slot starts clean.
        let c = r.register(0x20000, 0x21000).unwrap();
        assert!(!r.faulted(c));
        assert_eq!(r.find(0x20000), Some((c, 0x20000, 0x21000)));
    }

    #[test]
    fn a_full_registry_refuses_and_frees_slots_for_reuse() {
        let r: Registry<3> = Registry::new();
        let slots: Vec<usize> = (0..3)
            .map(|i| r.register(i * 0x1000, i * 0x1000 + 0x1000).unwrap())
            .collect();
        assert_eq!(r.register(0x9000, 0xa000), None);
        r.unregister(slots[1]);
        assert_eq!(r.register(0x9000, 0xa000), Some(slots[1]));
        assert_eq!(r.register(0xb000, 0xc000), None);
    }

    #[test]
    fn install_is_idempotent() {
        assert_eq!(install(), Ok(()));
        assert_eq!(install(), Ok(()));
        assert!(page_bytes().is_power_of_two());
    }
}
