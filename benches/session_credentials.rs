//! What running a session's file operations with its user's credentials costs: a jailed open and
//! stat with ringd's own credentials, after switching to the same user (every anonymous
//! session), to a different user each time (the worst case, system accounts taking turns on one
//! shard), and handed to a worker thread and back (the alternative design: a thread per user).
//! Needs root for the switching cases; without it only the first runs.

use std::hint::black_box;
use std::os::unix::fs::PermissionsExt;
use std::sync::mpsc;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use ringd::shard::ftp::jail::Jail;
use ringd::sys::credentials::{self, FsIdentity};
use ringd::sys::test_dirs::TempDir;

/// One session step's worth of file work: resolve a path in the jail, describe the file.
fn stat_in(jail: &Jail) {
    black_box(jail.stat_follow(black_box("/dir/file.txt")).unwrap());
}

fn identity(uid: u32) -> FsIdentity {
    FsIdentity {
        uid,
        gid: uid,
        groups: vec![uid, 100],
    }
}

fn session_credentials(c: &mut Criterion) {
    let dir = TempDir::new("bench-credentials");
    dir.write("dir/file.txt", b"x");
    let base = dir.path();
    for path in [base, &base.join("dir")] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let jail = Arc::new(Jail::open(base).unwrap());

    let mut group = c.benchmark_group("session_credentials");
    group.bench_function("stat_as_ringd", |b| b.iter(|| stat_in(&jail)));
    if credentials::can_switch() {
        let first = identity(65534);
        let second = identity(65533);
        // Criterion writes its results from this thread: it gets ringd's own credentials back
        // after each measurement.
        group.bench_function("stat_as_the_same_user", |b| {
            b.iter(|| {
                credentials::act_as(&first).unwrap();
                stat_in(&jail)
            });
            credentials::act_as_process().unwrap();
        });
        group.bench_function("stat_as_alternating_users", |b| {
            let mut turn = false;
            b.iter(|| {
                turn = !turn;
                credentials::act_as(if turn { &first } else { &second }).unwrap();
                stat_in(&jail)
            });
            credentials::act_as_process().unwrap();
        });
        // A worker thread for the user, as the design without per-thread credentials would
        // need: the request goes over and the answer comes back.
        let (requests, worker_requests) = mpsc::channel::<()>();
        let (worker_answers, answers) = mpsc::channel::<()>();
        let worker_jail = Arc::clone(&jail);
        let worker = std::thread::spawn(move || {
            credentials::act_as(&identity(65534)).unwrap();
            while worker_requests.recv().is_ok() {
                stat_in(&worker_jail);
                worker_answers.send(()).unwrap();
            }
        });
        group.bench_function("stat_on_a_worker_of_the_user", |b| {
            b.iter(|| {
                requests.send(()).unwrap();
                answers.recv().unwrap();
            })
        });
        drop(requests);
        worker.join().unwrap();
    } else {
        eprintln!("session_credentials: not root, the switching cases are skipped");
    }
    group.finish();
}

criterion_group!(benches, session_credentials);
criterion_main!(benches);
