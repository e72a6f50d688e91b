#![cfg(feature = "std")]
// WebAssembly without the atomics feature has no threads (`std::thread::spawn` fails):
// there `forward_threads` runs on the calling thread alone and this module is left out.
#![cfg(not(all(target_family = "wasm", not(target_feature = "atomics"))))]
//! A team of threads kept for the life of a network, each job run on all of them at once,
//! and the barrier they pass between layers: the threads `forward_threads` splits every
//! layer over. Kept threads cost nothing to start, and the OS keeps them on separate
//! cores; a thread spawned per image starts on its parent's core and often stays there for
//! much of a 2-4 ms forward pass.
//!
//! Waiting (for a job, or at the barrier) spins for a few microseconds, then sleeps on a
//! condition variable: when another process holds a core, a sleeping thread gives its
//! time to the one it waits for, where a spinning or yielding one would take it.

use core::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use std::vec::Vec;

use super::exec;

/// A job: called with the member's index and the team's barrier.
pub type Job<'a> = dyn Fn(usize, &TeamBarrier) + Sync + 'a;

/// A job as the workers see it: its lifetime is erased, see [`Team::run`].
type JobPtr = *const Job<'static>;

/// How long an idle worker polls for the next job before it sleeps.
const POLL: Duration = Duration::from_micros(200);

/// How long a thread at the barrier spins before it sleeps: longer than the usual
/// imbalance between threads' parts of a layer, shorter than a layer.
const SPIN: Duration = Duration::from_micros(30);

/// The longest a thread sleeps at the barrier before it looks again.
const NAP: Duration = Duration::from_millis(1);

/// Spins while `busy()` holds, for at most `limit`; says whether it still holds.
fn spin_while(limit: Duration, busy: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    let mut spins = 0u32;
    while busy() {
        spins = spins.wrapping_add(1);
        if spins & 63 == 0 && start.elapsed() > limit {
            return true;
        }
        core::hint::spin_loop();
    }
    false
}

/// The barrier between layers: spin, then sleep. Sense is kept by a generation count.
pub struct TeamBarrier {
    threads: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

impl TeamBarrier {
    fn new(threads: usize) -> Self {
        TeamBarrier {
            threads,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }
}

impl exec::Barrier for TeamBarrier {
    fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.threads {
            self.arrived.store(0, Ordering::Relaxed);
            // SeqCst on `generation` and `sleepers`, here and in a sleeper: either it sees
            // the new generation, or we see it counted and wake it. The bump is a
            // read-modify-write, a full fence on every target: emulators (qemu-user on x86)
            // have let a plain SeqCst store pass the load after it.
            self.generation.fetch_add(1, Ordering::SeqCst);
            if self.sleepers.load(Ordering::SeqCst) != 0 {
                drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
                self.wake.notify_all();
            }
            return;
        }
        if !spin_while(SPIN, || self.generation.load(Ordering::Acquire) == generation) {
            return;
        }
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        while self.generation.load(Ordering::SeqCst) == generation {
            // The timeout only bounds the cost of a lost wake-up, should one ever happen.
            guard = self.wake.wait_timeout(guard, NAP).unwrap_or_else(|e| e.into_inner()).0;
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Shared {
    /// Bumped once per job, and once to make the workers exit.
    generation: AtomicUsize,
    /// The current job; written by the caller only while no worker is running one.
    job: UnsafeCell<Option<JobPtr>>,
    /// Workers that have not finished the current job.
    pending: AtomicUsize,
    exit: AtomicBool,
    sleep: Mutex<()>,
    wake: Condvar,
    barrier: TeamBarrier,
}

// SAFETY: `job` is written by the caller only while `pending == 0` (no worker reads it),
// before the `generation` bump that publishes it (Release); workers read it only after
// seeing that bump (Acquire) and before decrementing `pending`. The job itself is `Sync`.
unsafe impl Sync for Shared {}
// SAFETY: as above; the pointer is only dereferenced under that protocol.
unsafe impl Send for Shared {}

/// `threads - 1` parked workers plus the calling thread.
pub struct Team {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl core::fmt::Debug for Team {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Team").field("threads", &self.threads()).finish()
    }
}

impl Team {
    /// A team of `threads` (at least 1) counting the caller. If the OS refuses a thread,
    /// the team is smaller; [`Team::threads`] says how many it has.
    pub fn new(threads: usize) -> Self {
        let shared = Arc::new(Shared {
            generation: AtomicUsize::new(0),
            job: UnsafeCell::new(None),
            pending: AtomicUsize::new(0),
            exit: AtomicBool::new(false),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
            barrier: TeamBarrier::new(threads.max(1)),
        });
        let mut workers = Vec::new();
        for index in 1..threads.max(1) {
            let s = Arc::clone(&shared);
            match std::thread::Builder::new().name(std::format!("ghostnet-{index}")).spawn(move || work(&s, index)) {
                Ok(handle) => workers.push(handle),
                Err(_) => {
                    // Start over smaller, so that the barrier counts the threads there are.
                    let started = workers.len() + 1;
                    drop(Team { shared, workers });
                    return Team::new(started);
                }
            }
        }
        Team { shared, workers }
    }

    /// Threads that run each job, the caller included.
    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Calls `job(i, barrier)` once on every member `i` in `0..threads()` at the same time
    /// (0 on the calling thread) and returns when all have returned. A panic in a job aborts
    /// the process: the others may be waiting for it at the barrier, and could never finish.
    pub fn run(&mut self, job: &Job<'_>) {
        let s = &*self.shared;
        if self.workers.is_empty() {
            job(0, &s.barrier);
            return;
        }
        // SAFETY: only the lifetime changes. The pointer is read by workers between the
        // `generation` bump below and their `pending` decrement, and this function does not
        // return (nor unwind: panics abort) before `pending` is back to 0.
        let erased: JobPtr = unsafe { core::mem::transmute::<*const Job<'_>, JobPtr>(job) };
        // SAFETY: `pending` is 0 (the previous `run` waited for it), so no worker reads `job`.
        unsafe { *s.job.get() = Some(erased) };
        s.pending.store(self.workers.len(), Ordering::Relaxed);
        s.generation.fetch_add(1, Ordering::Release);
        wake_all(s);
        abort_on_panic(|| job(0, &s.barrier));
        // The workers left the job's last barrier with us, so they are about to return.
        while spin_while(SPIN, || s.pending.load(Ordering::Acquire) != 0) {
            std::thread::yield_now();
        }
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        let s = &*self.shared;
        s.exit.store(true, Ordering::Relaxed);
        s.generation.fetch_add(1, Ordering::Release);
        wake_all(s);
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// Wakes the workers that sleep. Taking the lock orders the `generation` bump before a
/// sleeper's re-check of it, so none misses the bump.
fn wake_all(s: &Shared) {
    drop(s.sleep.lock().unwrap_or_else(|e| e.into_inner()));
    s.wake.notify_all();
}

fn abort_on_panic(f: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
        std::process::abort();
    }
}

/// A worker's life: wait for a new generation, run its part of the job, report.
fn work(s: &Shared, index: usize) {
    let mut seen = 0;
    loop {
        seen = next_generation(s, seen);
        if s.exit.load(Ordering::Relaxed) {
            return;
        }
        // SAFETY: the caller wrote `job` before the bump we saw (Acquire), and keeps it
        // alive until we decrement `pending`.
        let job = unsafe { (*s.job.get()).expect("a job is published with its generation") };
        // SAFETY: as above: the pointee outlives this call.
        abort_on_panic(|| unsafe { (*job)(index, &s.barrier) });
        s.pending.fetch_sub(1, Ordering::Release);
    }
}

/// Polls for a generation other than `seen` for [`POLL`], then sleeps until one comes.
fn next_generation(s: &Shared, seen: usize) -> usize {
    if !spin_while(POLL, || s.generation.load(Ordering::Acquire) == seen) {
        return s.generation.load(Ordering::Acquire);
    }
    let mut guard = s.sleep.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let g = s.generation.load(Ordering::Acquire);
        if g != seen {
            return g;
        }
        guard = s.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_member_runs_each_job_once() {
        for threads in [1, 2, 3, 5] {
            let mut team = Team::new(threads);
            assert_eq!(team.threads(), threads);
            for round in 0..50 {
                let hits: Vec<AtomicUsize> = (0..threads).map(|_| AtomicUsize::new(0)).collect();
                team.run(&|i, _| {
                    hits[i].fetch_add(round + 1, Ordering::Relaxed);
                });
                assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == round + 1), "round {round}");
            }
        }
    }

    #[test]
    fn sleeping_workers_wake_for_the_next_job() {
        let mut team = Team::new(2);
        let total = AtomicUsize::new(0);
        for _ in 0..3 {
            std::thread::sleep(POLL * 5);
            team.run(&|i, _| {
                total.fetch_add(i + 1, Ordering::Relaxed);
            });
        }
        assert_eq!(total.load(Ordering::Relaxed), 3 * 3);
    }

    /// Many short layers, one side sometimes outlasting the other's spin so that it
    /// sleeps: under qemu-user, a wake-up lost this way once hung about one run in ten of
    /// 300 such jobs.
    #[test]
    #[cfg_attr(miri, ignore = "20 000 barrier rounds of busy waiting")]
    fn uneven_layers_never_hang() {
        let mut team = Team::new(2);
        let rounds = AtomicUsize::new(0);
        for j in 0..100 {
            team.run(&|i, barrier| {
                for round in 0..100usize {
                    rounds.fetch_add(1, Ordering::Relaxed);
                    if (round + j + i) % 13 == 0 {
                        let start = Instant::now();
                        while start.elapsed() < SPIN + Duration::from_micros(10 + (round % 3) as u64 * 30) {}
                    }
                    exec::Barrier::wait(barrier);
                }
            });
        }
        assert_eq!(rounds.load(Ordering::Relaxed), 100 * 100 * 2);
    }

    #[test]
    fn no_thread_passes_the_barrier_before_all_reach_it() {
        for threads in [2, 3, 4] {
            let mut team = Team::new(threads);
            let arrived = AtomicUsize::new(0);
            let wrong = AtomicUsize::new(0);
            team.run(&|i, barrier| {
                for round in 1..=200 {
                    arrived.fetch_add(1, Ordering::Relaxed);
                    if i == round % threads {
                        // Late arrivals make the others spin out and sleep.
                        std::thread::sleep(Duration::from_micros(if round % 50 == 0 { 100 } else { 1 }));
                    }
                    exec::Barrier::wait(barrier);
                    if arrived.load(Ordering::Relaxed) < round * threads {
                        wrong.fetch_add(1, Ordering::Relaxed);
                    }
                    exec::Barrier::wait(barrier);
                }
            });
            assert_eq!(wrong.load(Ordering::Relaxed), 0, "{threads} threads");
            assert_eq!(arrived.load(Ordering::Relaxed), 200 * threads);
        }
    }
}
