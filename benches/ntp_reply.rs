//! The per-request NTP path without I/O: parse, access check, rate limit, reply.

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringd::metrics::NtpCounters;
use ringd::ntp::access::{AccessTable, Subnet};
use ringd::ntp::clock_state::{ClockCell, ClockSnapshot};
use ringd::ntp::packet::{Header, NtpTimestamp, UnixTime, MODE_CLIENT};
use ringd::ntp::ratelimit::RateLimiter;
use ringd::ntp::reply;
use ringd::ntp::responder::Responder;

fn request() -> [u8; 48] {
    Header {
        version: 4,
        mode: MODE_CLIENT,
        poll: 6,
        transmit: NtpTimestamp(0xE000_0000_1234_5678),
        ..Header::default()
    }
    .to_bytes()
}

fn responder(limiter: Option<RateLimiter>) -> Responder {
    let mut access = AccessTable::new();
    access.set(
        Subnet {
            addr: "127.0.0.0".parse().unwrap(),
            prefix_len: 8,
        },
        true,
        false,
    );
    access.set(
        Subnet {
            addr: "127.66.0.0".parse().unwrap(),
            prefix_len: 16,
        },
        false,
        false,
    );
    Responder::new(
        Arc::new(access),
        limiter,
        Arc::new(ClockCell::new(ClockSnapshot::UNSYNCHRONISED)),
        -25,
        Arc::new(NtpCounters::default()),
    )
}

fn bench(c: &mut Criterion) {
    let request = request();
    let t2 = UnixTime {
        secs: 1_700_000_000,
        nanos: 1,
    };
    let mut group = c.benchmark_group("ntp");
    group.throughput(Throughput::Elements(1));

    group.bench_function("parse_request", |b| {
        b.iter(|| reply::parse_request(black_box(&request)))
    });

    let mut plain = responder(None);
    let client: IpAddr = "127.0.0.9".parse().unwrap();
    let mut out = [0u8; 48];
    group.bench_function("respond", |b| {
        b.iter(|| plain.respond(black_box(&request), client, Some(t2), || t2, &mut out))
    });

    let limiter = RateLimiter::new(-10, 255, 4, 0, 524_288, 1);
    let mut limited = responder(Some(limiter));
    let clients: Vec<IpAddr> = (0..4096u32)
        .map(|n| IpAddr::from([127, 1, (n >> 8) as u8, n as u8]))
        .collect();
    let mut next = 0;
    group.bench_function("respond_ratelimited_4096_clients", |b| {
        b.iter(|| {
            next = (next + 1) % clients.len();
            limited.respond(
                black_box(&request),
                clients[next],
                Some(t2),
                || t2,
                &mut out,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
