//! Idle polling: keeping the gateway's cores awake while its links carry traffic, so that a
//! frame does not wait for a halted CPU to wake up.
//!
//! Each frame crosses the gateway through a thread wake-up (the link thread sleeps in `poll`
//! between bursts). On bare metal a wake-up costs a few microseconds; on a virtual machine whose
//! idle vCPUs halt (no `haltpoll` cpuidle driver in the guest), waking a halted vCPU means an exit
//! to the host and a host scheduling decision, and the core comes back with cold caches: tens of
//! microseconds, several times per round trip. With idle polling, one thread per core the
//! gateway may run on (its CPU affinity) spins at `SCHED_IDLE` priority for `window` after the
//! last frame, so that no core halts meanwhile:
//!
//! - the scheduler counts a core running only `SCHED_IDLE` work as idle, so a link thread being
//!   woken is placed there and preempts the spinner;
//! - the spinner yields on every turn, so a woken thread gets the core at the next turn even
//!   where the scheduler would not preempt at once;
//! - after `window` without a frame the spinners sleep; the next frame wakes them (that frame
//!   still pays for a halted core).
//!
//! The cost is the cores' idle time while traffic flows: the host sees them busy. It is off
//! unless configured (`idle_poll_ms` in the gateway's file, `--idle-poll-ms` in managed mode).

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

struct Inner {
    window: Duration,
    epoch: Instant,
    /// When a link last carried a frame, in nanoseconds since `epoch` ([`NEVER`] before the
    /// first).
    last: AtomicU64,
    /// The spinners are parked (or about to be): the next activity unparks them.
    sleeping: AtomicBool,
    stop: AtomicBool,
    /// Set once all are spawned, before any link can note activity.
    spinners: OnceLock<Vec<Thread>>,
}

impl Inner {
    fn unpark_all(&self) {
        for t in self.spinners.get().into_iter().flatten() {
            t.unpark();
        }
    }
}

/// What the link threads hold: they call [`Activity::note`] after every burst.
#[derive(Clone)]
pub struct Activity {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Activity")
            .field("window", &self.inner.window)
            .finish()
    }
}

impl Activity {
    /// A link carried something: keep (or start) polling for another window.
    pub fn note(&self) {
        let i = &self.inner;
        i.last.store(nanos_since(i.epoch).max(1), Ordering::SeqCst);
        // Paired with a spinner's store of `sleeping` then load of `last`: one of the two sees
        // the other's write, so the spinners never sleep through a frame that just came.
        if i.sleeping.load(Ordering::SeqCst) {
            i.sleeping.store(false, Ordering::SeqCst);
            i.unpark_all();
        }
    }
}

/// The running spinners; dropping it stops them.
pub struct IdlePoll {
    activity: Activity,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for IdlePoll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdlePoll")
            .field("window", &self.activity.inner.window)
            .field("cores", &self.threads.len())
            .finish()
    }
}

/// How long a spinner sleeps at most before it looks at the stop flag.
const PARK_AT_MOST: Duration = Duration::from_millis(200);

const NEVER: u64 = 0;

/// Frames carried within the last `window` keep the spinners spinning.
fn within(now_ns: u64, last_ns: u64, window: Duration) -> bool {
    last_ns != NEVER && u128::from(now_ns.saturating_sub(last_ns)) < window.as_nanos()
}

fn nanos_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// The cores this process may run on.
fn allowed_cpus() -> std::io::Result<Vec<usize>> {
    let set = sched_getaffinity(Pid::from_raw(0)).map_err(std::io::Error::from)?;
    Ok((0..CpuSet::count())
        .filter(|&c| set.is_set(c).unwrap_or(false))
        .collect())
}

impl IdlePoll {
    /// Starts one spinner per core the process may run on, asleep until the first
    /// [`Activity::note`]. Fails where a thread cannot be pinned or run at idle priority (then
    /// nothing spins: spinning at normal priority would take cores from real work).
    pub fn start(window: Duration) -> std::io::Result<IdlePoll> {
        let cpus = allowed_cpus()?;
        let inner = Arc::new(Inner {
            window,
            epoch: Instant::now(),
            last: AtomicU64::new(NEVER),
            sleeping: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            spinners: OnceLock::new(),
        });
        // Each thread reports whether it could be pinned at idle priority, then spins (asleep
        // until the first frame: no frame can come before `start` returns the handle).
        // Whatever returns early drops `poll`, which stops the spinners already started.
        let mut poll = IdlePoll {
            activity: Activity {
                inner: inner.clone(),
            },
            threads: Vec::with_capacity(cpus.len()),
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
        for &cpu in &cpus {
            let (inner, ready) = (inner.clone(), ready_tx.clone());
            poll.threads.push(
                std::thread::Builder::new()
                    .name(format!("xc-idle-poll{cpu}"))
                    .spawn(move || {
                        let setup = pin_to(cpu).and_then(|()| set_idle_priority());
                        let ok = setup.is_ok();
                        let _ = ready.send(setup);
                        if ok {
                            spin(&inner);
                        }
                    })?,
            );
        }
        let _ = inner
            .spinners
            .set(poll.threads.iter().map(|t| t.thread().clone()).collect());
        // One report per thread (the spinners keep their sender: count, don't wait for the end).
        if let Some(Err(e)) = ready_rx.iter().take(cpus.len()).find(Result::is_err) {
            return Err(std::io::Error::new(
                e.kind(),
                format!("idle polling: cannot pin a thread to a core at idle priority: {e}"),
            ));
        }
        tracing::info!(
            window_ms = window.as_millis() as u64,
            cores = cpus.len(),
            "idle polling on"
        );
        Ok(poll)
    }

    /// The handle the links note their activity on.
    pub fn activity(&self) -> Activity {
        self.activity.clone()
    }

    pub fn window(&self) -> Duration {
        self.activity.inner.window
    }
}

impl Drop for IdlePoll {
    fn drop(&mut self) {
        let i = &self.activity.inner;
        i.stop.store(true, Ordering::SeqCst);
        i.unpark_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn spin(i: &Inner) {
    while !i.stop.load(Ordering::Relaxed) {
        if within(
            nanos_since(i.epoch),
            i.last.load(Ordering::Relaxed),
            i.window,
        ) {
            // A yield, not a busy loop: under EEVDF a thread woken with negative lag may not
            // be picked over even an idle-priority spinner until it yields (measured: frames
            // waited for the next tick, 4 ms, without it).
            std::thread::yield_now();
            continue;
        }
        i.sleeping.store(true, Ordering::SeqCst);
        if within(
            nanos_since(i.epoch),
            i.last.load(Ordering::SeqCst),
            i.window,
        ) {
            i.sleeping.store(false, Ordering::SeqCst);
            continue;
        }
        std::thread::park_timeout(PARK_AT_MOST);
    }
}

fn pin_to(cpu: usize) -> std::io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu).map_err(std::io::Error::from)?;
    sched_setaffinity(Pid::from_raw(0), &set).map_err(std::io::Error::from)
}

/// Puts the calling thread in the `SCHED_IDLE` class.
#[allow(unsafe_code)]
fn set_idle_priority() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param that outlives the call.
    let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Policy (field 41 of /proc/self/task/TID/stat), state (field 3) and the allowed cores of
    /// each spinner thread.
    fn spinners() -> Vec<(u32, char, String)> {
        let mut out = Vec::new();
        for t in std::fs::read_dir("/proc/self/task").into_iter().flatten() {
            let Ok(t) = t else { continue };
            let dir = t.path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if !comm.starts_with("xc-idle-poll") {
                continue;
            }
            let (Ok(stat), Ok(status)) = (
                std::fs::read_to_string(dir.join("stat")),
                std::fs::read_to_string(dir.join("status")),
            ) else {
                continue;
            };
            // The fields after the command name, which is in parentheses.
            let Some(close) = stat.rfind(')') else {
                continue;
            };
            let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
            let state = f[0].chars().next().unwrap_or('?');
            let policy = f[38].parse().unwrap_or(u32::MAX);
            let cpus = status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .unwrap_or("")
                .trim()
                .to_owned();
            out.push((policy, state, cpus));
        }
        out
    }

    fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ok() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn the_window_is_measured_from_the_last_frame() {
        let w = Duration::from_millis(10);
        assert!(within(5_000_000, 1, w));
        assert!(!within(10_000_001, 1, w));
        assert!(within(3, 5, w), "a clock read before the note is within");
        assert!(!within(1, NEVER, w), "no frame yet: asleep");
        assert!(!within(u64::MAX, 1, Duration::from_secs(1)));
    }

    #[test]
    fn one_spinner_per_core_at_idle_priority_spinning_only_after_activity() {
        let cpus = allowed_cpus().expect("affinity");
        let p = IdlePoll::start(Duration::from_millis(300)).expect("idle polling starts");
        let all_sleep = || {
            let s = spinners();
            s.len() == cpus.len() && s.iter().all(|(_, st, _)| *st == 'S')
        };
        wait_for("the spinners to start, asleep", all_sleep);
        let s = spinners();
        for (policy, _, _) in &s {
            assert_eq!(
                *policy,
                libc::SCHED_IDLE as u32,
                "spinners run at idle priority"
            );
        }
        let mut pinned: Vec<String> = s.into_iter().map(|(_, _, c)| c).collect();
        pinned.sort();
        let mut want: Vec<String> = cpus.iter().map(|c| c.to_string()).collect();
        want.sort();
        assert_eq!(pinned, want, "one spinner pinned to each allowed core");
        // Activity: they run (R) during the window, then sleep again.
        let a = p.activity();
        wait_for("a spinner to run", || {
            a.note();
            spinners().iter().any(|(_, st, _)| *st == 'R')
        });
        wait_for("the spinners to sleep after the window", all_sleep);
        drop(p);
        // (The threads are joined; the kernel may list an exited thread a moment longer.)
        wait_for("dropping it to end the threads", || spinners().is_empty());
    }
}
