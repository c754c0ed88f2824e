//! The recorder's I/O shell: one thread, one `smol::LocalExecutor`, one
//! task per camera ([`camera`]), one writer thread per camera
//! ([`writer`]: disk writes and syncs off the receiving thread), signals
//! (SIGTERM/SIGINT stop, SIGHUP reloads the configuration).

pub mod camera;
pub mod control;
mod reception;
pub mod retention;
pub mod seal;
pub mod writer;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use smol::channel::{self, Sender};
use smol::{LocalExecutor, Task, Timer};

use super::{Config, ConfigError, parse_config};
use crate::server::Clock;
use crate::server::signals::{Request, Signals};
use camera::{CameraJob, run_camera};

/// Every open segment must be finished and synced within this after SIGTERM.
pub const STOP_DEADLINE: Duration = Duration::from_secs(2);

/// Why a configuration file cannot be used.
#[derive(Debug)]
pub enum LoadError {
    /// It cannot be read.
    Io(std::io::Error),
    /// Its contents are refused.
    Config(ConfigError),
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Io(e) => e.fmt(f),
            Self::Config(e) => e.fmt(f),
        }
    }
}

/// Reads and checks a configuration file.
///
/// # Errors
///
/// [`LoadError`].
pub fn load_config(path: &Path) -> Result<Config, LoadError> {
    let text = std::fs::read_to_string(path).map_err(LoadError::Io)?;
    parse_config(&text).map_err(LoadError::Config)
}

struct Running {
    job: CameraJob,
    stop: Sender<()>,
    task: Task<JoinHandle<()>>,
}

fn jobs(config: &Config) -> BTreeMap<u32, CameraJob> {
    config
        .cameras
        .iter()
        .map(|c| {
            (
                c.id,
                CameraJob {
                    cam: c.clone(),
                    root: config.root.clone(),
                    segment_s: config.segment_s,
                },
            )
        })
        .collect()
}

/// Records until SIGTERM/SIGINT; returns the exit status.
pub fn run(config_path: &Path, config: Config, signals: Signals) -> i32 {
    if let Err(e) = std::fs::create_dir_all(&config.root) {
        log::error!("{}: {e}", config.root.display());
        return crate::cli::EXIT_FAILURE;
    }
    let listener = match control::bind(&config.control) {
        Ok(l) => l,
        Err(e) => {
            log::error!("control socket {}: {e}", config.control.display());
            return crate::cli::EXIT_FAILURE;
        }
    };
    let ex = LocalExecutor::new();
    let status = smol::block_on(ex.run(main_loop(
        &ex,
        config_path,
        config.clone(),
        signals,
        listener,
    )));
    let _ = std::fs::remove_file(&config.control);
    status
}

async fn main_loop(
    ex: &LocalExecutor<'_>,
    config_path: &Path,
    config: Config,
    signals: Signals,
    listener: control::Listener,
) -> i32 {
    let clock = Clock::new();
    let retention = retention::Retention::new(&config.root, config.retain_bytes);
    let (retention_stop, retention_rx) = std::sync::mpsc::channel::<()>();
    let retention_thread = match retention::spawn(retention.clone(), retention_rx) {
        Ok(t) => Some(t),
        Err(e) => {
            log::error!("retention thread: {e}");
            None
        }
    };
    let registry: control::Registry = Rc::new(RefCell::new(BTreeMap::new()));
    let start = |job: CameraJob| -> Option<Running> {
        let id = job.cam.id;
        let spawned = writer::Writer::spawn(
            &job.root,
            id,
            job.segment_s,
            job.cam.alarm_pre_s,
            retention.clone(),
        );
        let writer = match spawned {
            Ok(w) => w,
            Err(e) => {
                log::error!("camera {id}: cannot start its writer thread: {e}");
                return None;
            }
        };
        registry.borrow_mut().insert(
            id,
            control::Alarms {
                writer: writer.sender(),
                post_s: job.cam.alarm_post_s,
            },
        );
        let (stop, stop_rx) = channel::bounded(1);
        let task = ex.spawn(run_camera(job.clone(), clock, stop_rx, writer));
        Some(Running { job, stop, task })
    };
    let _control = ex.spawn(control::serve(listener, Rc::clone(&registry), clock));
    let mut running: BTreeMap<u32, Running> = BTreeMap::new();
    for (id, job) in jobs(&config) {
        if let Some(r) = start(job) {
            running.insert(id, r);
        }
    }
    log::info!(
        "recording {} camera(s) into {}",
        running.len(),
        config.root.display()
    );
    let mut finishing: Vec<JoinHandle<()>> = Vec::new();
    loop {
        match signals.next().await {
            Request::Stop => break,
            Request::Reload => match load_config(config_path) {
                Err(e) => log::error!(
                    "{}: {e}; the configuration in use is kept",
                    config_path.display()
                ),
                Ok(mut new) => {
                    // The store and the socket are the process's: they change
                    // with a restart only.
                    if new.root != config.root || new.control != config.control {
                        log::warn!(
                            "{}: root and control take effect at the next start; keeping {} and {}",
                            config_path.display(),
                            config.root.display(),
                            config.control.display()
                        );
                        new.root.clone_from(&config.root);
                        new.control.clone_from(&config.control);
                    }
                    if let Ok(mut r) = retention.lock() {
                        r.set_budget(new.retain_bytes);
                    }
                    let wanted = jobs(&new);
                    let old: Vec<u32> = running.keys().copied().collect();
                    for id in old {
                        if wanted.get(&id) != running.get(&id).map(|r| &r.job)
                            && let Some(r) = running.remove(&id)
                        {
                            log::info!("camera {id}: stopping (configuration changed)");
                            registry.borrow_mut().remove(&id);
                            r.stop.close();
                            // Its writer finishes its segments before a new
                            // writer of the camera may seal what is left open.
                            let writer = r.task.await;
                            let _ = smol::unblock(move || writer.join()).await;
                        }
                    }
                    for (id, job) in wanted {
                        if !running.contains_key(&id)
                            && let Some(r) = start(job)
                        {
                            running.insert(id, r);
                        }
                    }
                    log::info!("configuration reloaded: {} camera(s)", running.len());
                }
            },
        }
    }
    let deadline = Instant::now() + STOP_DEADLINE;
    drop(retention_stop);
    finishing.extend(retention_thread);
    for r in running.values() {
        r.stop.close();
    }
    registry.borrow_mut().clear();
    for (_, r) in running {
        finishing.push(r.task.await);
    }
    // The writer threads finish their segments (end record, fdatasync).
    while finishing.iter().any(|h| !h.is_finished()) && Instant::now() < deadline {
        Timer::after(Duration::from_millis(5)).await;
    }
    let late = finishing.iter().filter(|h| !h.is_finished()).count();
    if late > 0 {
        log::error!("{late} camera writer(s) still busy after {STOP_DEADLINE:?}; exiting anyway");
        return crate::cli::EXIT_FAILURE;
    }
    for h in finishing {
        let _ = h.join();
    }
    log::info!("stopped");
    crate::cli::EXIT_OK
}
