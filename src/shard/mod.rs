//! Shards: one thread per core, pinned, each owning its sockets and ring; the NTP runtime in `ntp/`, the FTP runtime in `ftp/`.

pub mod ftp;
pub mod listen_port;
pub mod ntp;

use std::fmt;

/// The datagram I/O engine of the NTP shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Multishot RecvMsg on a provided-buffer ring, batched SendMsg.
    Uring,
    /// recvmmsg/sendmmsg after poll: where io_uring is disabled or filtered.
    Mmsg,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Uring => "io_uring",
            Backend::Mmsg => "recvmmsg/sendmmsg",
        })
    }
}

/// Assigns shards to the CPUs the process may run on, round robin.
pub fn cpu_for_shard(allowed: &[usize], shard: usize) -> Option<usize> {
    if allowed.is_empty() {
        None
    } else {
        Some(allowed[shard % allowed.len()])
    }
}

/// A runtime for a thread of its own (an FTP shard, the NTS-KE server), its io_uring set up for
/// that one thread: completions are handled when the thread asks for them, not by interrupting it (`COOP_TASKRUN`, `DEFER_TASKRUN`). Under TLS
/// load the interrupts cost a sixth of the sessions a core serves (docs/benchmarks.md). A
/// kernel older than 6.1 refuses these flags and gets io_uring as it sets it up by default,
/// not compio's fallback to polling.
pub fn single_thread_runtime() -> std::io::Result<compio::runtime::Runtime> {
    let mut proactor = compio::driver::ProactorBuilder::new();
    proactor
        .single_issuer(true)
        .coop_taskrun(true)
        .taskrun_flag(true)
        .defer_taskrun(true);
    let runtime = compio::runtime::Runtime::builder()
        .with_proactor(proactor)
        .build()?;
    if runtime.driver_type().is_iouring() {
        Ok(runtime)
    } else {
        compio::runtime::Runtime::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_follow_the_affinity_mask() {
        assert_eq!(cpu_for_shard(&[1], 0), Some(1));
        assert_eq!(cpu_for_shard(&[2, 5], 1), Some(5));
        assert_eq!(cpu_for_shard(&[2, 5], 2), Some(2));
        assert_eq!(cpu_for_shard(&[], 0), None);
    }
}
