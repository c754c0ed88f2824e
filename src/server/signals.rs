//! SIGTERM/SIGINT (stop gracefully) and SIGHUP (reload) through a
//! `signalfd`, so they are ordinary readable events on the one thread.

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use smol::Async;

/// What a signal asks of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// SIGTERM or SIGINT: stop gracefully.
    Stop,
    /// SIGHUP: reload what can be reloaded.
    Reload,
}

/// The signals the server handles, blocked for normal delivery and read
/// from a descriptor instead.
pub struct Signals {
    fd: Async<SignalFd>,
}

impl Signals {
    /// Blocks SIGTERM, SIGINT and SIGHUP in this thread (call before any
    /// other thread is started, so they inherit the mask) and opens the
    /// descriptor that receives them.
    pub fn install() -> std::io::Result<Signals> {
        let mut mask = SigSet::empty();
        for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
            mask.add(s);
        }
        mask.thread_block()?;
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        Ok(Signals {
            fd: Async::new(fd)?,
        })
    }

    /// Waits for the next signal.
    pub async fn next(&self) -> Request {
        loop {
            match self.fd.get_ref().read_signal() {
                Ok(Some(info)) => {
                    return if info.ssi_signo == Signal::SIGHUP as u32 {
                        Request::Reload
                    } else {
                        Request::Stop
                    };
                }
                Ok(None) | Err(_) => {
                    if self.fd.readable().await.is_err() {
                        // The descriptor is unusable: never report a signal.
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }
}
