//! The progress line of a long run, on standard error when it is a terminal (`indicatif`): the
//! units that reached each sink-side PE (a PE whose outputs feed no other PE) and their rate
//! over the last second, the time elapsed, the pool's size under the dynamic mappings, and
//! dead letters as soon as there are some. It appears once the run has lasted a second, is
//! redrawn five times a second, and is erased before the run's outputs and report are printed
//! (those go to standard output, or to their files, never through it). Nothing is drawn when
//! standard error is not a terminal, nor with `--quiet` or `--no-progress`. Log lines
//! written while it is drawn (warnings, `out.log`) go through [`LogWriter`], which takes the
//! line off the terminal, writes them, and draws it again below them.
//!
//! ```text
//! ⠙ 00:00:07  sink 4.20 M units (612 k/s) · pool 4 workers
//! ```

use super::Observatory;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a run lasts before its progress line appears.
pub const DELAY: Duration = Duration::from_secs(1);

/// How often the line is redrawn.
const REDRAW: Duration = Duration::from_millis(200);

/// The line being drawn in this process, if any (log lines are written around it).
static DRAWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn drawn() -> std::sync::MutexGuard<'static, Option<ProgressBar>> {
    DRAWN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` with the progress line, if one is drawn, taken off the terminal (it is drawn
/// again afterwards): for anything written to the terminal while it is shown.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let bar = drawn().clone();
    match bar {
        Some(bar) => bar.suspend(f),
        None => f(),
    }
}

/// Standard error for the log: each write goes around the progress line (see [`suspend`]),
/// so that a log line is never drawn into it.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        suspend(|| std::io::stderr().lock().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The running progress line. See the [module documentation](self).
pub struct Progress {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Progress {
    /// Starts the line for a run observed by `observatory`, whose sink-side PEs are `sinks`,
    /// if standard error is a terminal; `None` otherwise.
    pub fn start(observatory: Arc<Observatory>, sinks: Vec<String>) -> Option<Progress> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("d4r-progress".into())
            .spawn(move || draw(&observatory, &sinks, &stopped))
            .ok()?;
        Some(Progress { stop, thread })
    }

    /// Erases the line (before the outputs and the report are printed).
    pub fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

fn draw(observatory: &Observatory, sinks: &[String], stopped: &mpsc::Receiver<()>) {
    let wait_until =
        |deadline: Duration| matches!(stopped.recv_timeout(deadline), Err(mpsc::RecvTimeoutError::Timeout));
    if !wait_until(DELAY.saturating_sub(observatory.elapsed())) {
        return;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed_precise}  {wide_msg}") {
        bar.set_style(style);
    }
    bar.set_elapsed(observatory.elapsed());
    *drawn() = Some(bar.clone());
    let mut history: VecDeque<(Instant, Vec<u64>)> = VecDeque::new();
    loop {
        let totals = observatory.totals();
        let now = Instant::now();
        let counts: Vec<u64> = sinks.iter().map(|s| totals.get(s).map_or(0, |t| t.units_in)).collect();
        history.push_back((now, counts.clone()));
        while history.len() > 2 && now.duration_since(history[1].0) >= Duration::from_secs(1) {
            history.pop_front();
        }
        let (then, before) = &history[0];
        let span = now.duration_since(*then).as_secs_f64();
        let mut parts: Vec<String> = Vec::new();
        for (i, sink) in sinks.iter().enumerate().take(3) {
            let rate = if span > 0.0 { counts[i].saturating_sub(before[i]) as f64 / span } else { 0.0 };
            parts.push(format!("{sink} {} units ({}/s)", human(counts[i] as f64), human(rate)));
        }
        if sinks.len() > 3 {
            parts.push(format!("+{} more sink(s)", sinks.len() - 3));
        }
        if let Some(pool) = observatory.pool_size() {
            parts.push(format!("pool {pool} worker(s)"));
        }
        let dead: u64 = totals.values().map(|t| t.dead_letters).sum();
        if dead > 0 {
            parts.push(format!("{dead} dead letter(s)"));
        }
        bar.set_message(parts.join(" · "));
        bar.tick();
        if !wait_until(REDRAW) {
            break;
        }
    }
    *drawn() = None;
    bar.finish_and_clear();
}

/// `1234567` as `1.23 M`.
pub fn human(x: f64) -> String {
    let (v, suffix) = match x {
        x if x >= 1e9 => (x / 1e9, " G"),
        x if x >= 1e6 => (x / 1e6, " M"),
        x if x >= 1e4 => (x / 1e3, " k"),
        x => return format!("{x:.0}"),
    };
    format!("{v:.2}{suffix}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_read_at_a_glance() {
        assert_eq!(super::human(7.0), "7");
        assert_eq!(super::human(9999.0), "9999");
        assert_eq!(super::human(12_345.0), "12.35 k");
        assert_eq!(super::human(4_200_000.0), "4.20 M");
        assert_eq!(super::human(3e9), "3.00 G");
    }
}
