//! The per-request NTP path without I/O: parse, access check, rate limit, reply.

use std::hint::black_box;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringd::ntp::nts_cookies::{ServerKeys, SessionKeys};
use ringd::ntp::nts_ntp::{self, MAX_REPLY_LEN};
use ringd::ntp::packet::{NtpTimestamp, UnixTime, HEADER_LEN};
use ringd::ntp::ratelimit::RateLimiter;
use ringd::ntp::reply;

#[path = "../tests/common/ntp_fixtures.rs"]
mod ntp_fixtures;
use ntp_fixtures::{client_request, loopback_responder};

fn bench(c: &mut Criterion) {
    let request = client_request(NtpTimestamp(0xE000_0000_1234_5678));
    let t2 = UnixTime {
        secs: 1_700_000_000,
        nanos: 1,
    };
    let mut group = c.benchmark_group("ntp");
    group.throughput(Throughput::Elements(1));

    group.bench_function("parse_request", |b| {
        b.iter(|| reply::parse_request(black_box(&request)))
    });

    let mut plain = loopback_responder(None);
    let client: SocketAddr = "127.0.0.9:40123".parse().unwrap();
    let mut out = [0u8; 48];
    group.bench_function("respond", |b| {
        b.iter(|| plain.respond(black_box(&request), client, Some(t2), || t2, &mut out))
    });

    let limiter = RateLimiter::new(-10, 255, 4, 0, 524_288, 1);
    let mut limited = loopback_responder(Some(limiter));
    let clients: Vec<SocketAddr> = (0..4096u32)
        .map(|n| SocketAddr::new(IpAddr::from([127, 1, (n >> 8) as u8, n as u8]), 40123))
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

    // An NTS client's usual request: its cookie and no placeholder, so the reply carries one
    // new cookie (two nonces, four AES-SIV key set-ups).
    let server_keys = ServerKeys::generate(|| [9; 36]);
    let session = SessionKeys {
        c2s: [1; 32],
        s2c: [2; 32],
    };
    let cookie = server_keys.seal(&session, [3; 16]);
    let mut nts = loopback_responder(None);
    nts.serve_nts(Arc::new(RwLock::new(server_keys)));
    let mut nts_request = [0u8; MAX_REPLY_LEN];
    nts_request[..HEADER_LEN].copy_from_slice(&request);
    let nts_len = nts_ntp::write_client_request(
        &mut nts_request,
        &[4; 32],
        &cookie,
        0,
        &session.c2s,
        [5; 16],
    )
    .unwrap();
    let mut nts_out = [0u8; MAX_REPLY_LEN];
    group.bench_function("respond_nts", |b| {
        b.iter(|| {
            nts.respond(
                black_box(&nts_request[..nts_len]),
                client,
                Some(t2),
                || t2,
                &mut nts_out,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
