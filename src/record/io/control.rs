//! The control socket (`control` in the configuration): `ctrtspd alarm`
//! connects, sends one request line ([`crate::record::control`]) and reads
//! one answer line. Connections are served one at a time, each bounded by
//! [`CLIENT_TIMEOUT`], so a stuck client delays the next alarm by at most
//! that.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use smol::channel::Sender;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::{Async, Timer};

use super::writer::ToWriter;
use crate::record::control::{MAX_REQUEST_BYTES, Request, answer_line, parse_request};
use crate::server::Clock;

/// How long a client may take to send its request and read the answer.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The bound socket.
pub type Listener = Async<UnixListener>;

/// Where a camera's alarms go.
#[derive(Clone, Debug)]
pub struct Alarms {
    /// Its writer thread's queue.
    pub writer: Sender<ToWriter>,
    /// Its `alarm_post_s`.
    pub post_s: u32,
}

/// The running cameras, by id.
pub type Registry = Rc<RefCell<BTreeMap<u32, Alarms>>>;

/// Binds the socket at `path` (its directory created), replacing a stale
/// socket file but never a live one: a second recorder on the same file
/// is refused. The socket is made 0660: only the recorder's user and group
/// may trigger alarms.
pub fn bind(path: &Path) -> std::io::Result<Listener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another recorder is listening there",
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    // Triggering alarm recordings is for the recorder's user and group (the
    // alarm inputs' scripts), not for every local account: 0660, whatever
    // the umask made of it.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Async::new(listener)
}

/// Serves the control socket forever.
pub async fn serve(listener: Listener, registry: Registry, clock: Clock) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            Timer::after(Duration::from_millis(100)).await;
            continue;
        };
        let one = serve_one(stream, &registry, clock);
        let timeout = async {
            Timer::after(CLIENT_TIMEOUT).await;
        };
        smol::future::or(one, timeout).await;
    }
}

async fn serve_one(mut stream: Async<UnixStream>, registry: &Registry, clock: Clock) {
    let mut buf = [0u8; MAX_REQUEST_BYTES];
    let mut len = 0;
    let line_end = loop {
        let Some(space) = buf.get_mut(len..) else {
            return;
        };
        if space.is_empty() {
            let _ = stream
                .write_all(answer_line(Err("request too long")).as_bytes())
                .await;
            return;
        }
        match stream.read(space).await {
            Ok(0) | Err(_) => return,
            Ok(n) => len += n,
        }
        if let Some(i) = buf
            .get(..len)
            .and_then(|b| b.iter().position(|&c| c == b'\n'))
        {
            break i;
        }
    };
    let line = core::str::from_utf8(buf.get(..line_end).unwrap_or(&[])).unwrap_or("");
    let answer = match parse_request(line) {
        Err(e) => answer_line(Err(e)),
        Ok(Request::Alarm { camera, seconds }) => {
            let alarms = registry.borrow().get(&camera).cloned();
            match alarms {
                None => answer_line(Err(&format!("unknown camera {camera}"))),
                Some(a) => {
                    let now_us = clock.unix_us();
                    let post_s = seconds.unwrap_or(a.post_s);
                    let msg = ToWriter::Alarm {
                        now_us,
                        post_us: i64::from(post_s) * 1_000_000,
                    };
                    if a.writer.send(msg).await.is_ok() {
                        log::info!("camera {camera}: alarm triggered ({post_s} s after)");
                        answer_line(Ok(&format!(
                            "camera {camera}: alarm clip recorded until {post_s} s from now"
                        )))
                    } else {
                        answer_line(Err(&format!("camera {camera} is stopping")))
                    }
                }
            }
        }
    };
    let _ = stream.write_all(answer.as_bytes()).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::TempDir;

    /// The socket kept the mode the umask gave it (0777 & !umask): under
    /// umask 0 or 002, writable, so connectable, by other local accounts,
    /// which could then trigger alarm clips.
    #[test]
    fn the_control_socket_is_for_the_recorders_user_and_group() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = TempDir::new("control-mode");
        let path = dir.0.join("run/record.sock");
        let _listener = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        // A second recorder on the same socket is refused.
        assert_eq!(
            bind(&path).err().map(|e| e.kind()),
            Some(std::io::ErrorKind::AddrInUse)
        );
    }
}
