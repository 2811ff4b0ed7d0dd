//! Graceful shutdown: the first SIGTERM or SIGINT asks long-running commands (`listen`,
//! `sweep`, `serve`) to stop taking new work and finish what is in flight (scans, actions,
//! acknowledgements); a second one exits at once (a killed run's pending actions are finished
//! by the next run, see `actions::recover`).

use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

static STOP: AtomicBool = AtomicBool::new(false);
static NOTIFY: Notify = Notify::const_new();

/// Whether shutdown was asked for.
pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Asks every loop to stop after its in-flight work.
pub fn request() {
    STOP.store(true, Ordering::SeqCst);
    NOTIFY.notify_waiters();
}

/// Resolves once shutdown is asked for.
pub async fn wait() {
    loop {
        let notified = NOTIFY.notified();
        if requested() {
            return;
        }
        notified.await;
    }
}

/// Sleeps `d`, or less if shutdown is asked for meanwhile.
pub async fn sleep(d: std::time::Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = wait() => {}
    }
}

/// Handles SIGTERM and SIGINT on a thread of its own: the first asks for a graceful stop,
/// the second exits with 130.
pub fn install() -> anyhow::Result<()> {
    use anyhow::Context;
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal handler")?;
    let (mut term, mut int) = rt
        .block_on(async {
            Ok::<_, std::io::Error>((signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?))
        })
        .context("installing the SIGTERM/SIGINT handler")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            rt.block_on(async {
                loop {
                    let name = tokio::select! {
                        _ = term.recv() => "SIGTERM",
                        _ = int.recv() => "SIGINT",
                    };
                    if requested() {
                        say!("{name} again: exiting now (pending actions are finished by the next run)");
                        std::process::exit(130);
                    }
                    say!("{name}: finishing the work in flight, then stopping (send it again to exit now)");
                    request();
                }
            })
        })
        .context("starting the signal handler")?;
    Ok(())
}
