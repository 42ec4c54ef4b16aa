//! # CPU time for the stages' benches
//!
//! Shared by every stage (the course's `train-cli` crate). On a machine
//! shared with other programs the wall clock counts their time too; the CPU
//! time of the benchmarking thread counts only its own work. The benches of
//! stages 3 and 4 time their `cpu-time` groups with [`cpu_timed`].

use std::time::{Duration, Instant};

/// CPU time the calling thread has run (`/proc/thread-self/schedstat`, Linux;
/// `None` elsewhere).
pub fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = text.split_whitespace().next()?.parse::<u64>().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// `iters` runs of `work`, timed in the thread's CPU time where the system
/// reports it, else on the wall clock. Made for criterion's `iter_custom`.
pub fn cpu_timed(iters: u64, mut work: impl FnMut()) -> Duration {
    let (wall, cpu) = (Instant::now(), thread_cpu_time());
    for _ in 0..iters {
        work();
    }
    match (cpu, thread_cpu_time()) {
        (Some(start), Some(end)) => end - start,
        _ => wall.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_work_takes_cpu_time_and_sleep_takes_little() {
        let wall = Instant::now();
        let busy = cpu_timed(2, || {
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(25) {
                std::hint::black_box(0);
            }
        });
        // Never more than the clock on the wall (a tick of slack), and not nothing.
        assert!(busy > Duration::ZERO, "{busy:?}");
        assert!(
            busy <= wall.elapsed() + Duration::from_millis(10),
            "{busy:?}"
        );
        if thread_cpu_time().is_some() {
            // Sleeping runs no instructions: CPU time stays far below the 200 ms slept.
            let asleep = cpu_timed(1, || std::thread::sleep(Duration::from_millis(200)));
            assert!(asleep < Duration::from_millis(100), "{asleep:?}");
        }
    }
}
