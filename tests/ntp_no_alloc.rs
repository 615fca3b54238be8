//! Steady-state NTP serving allocates nothing per request, on both I/O paths.

mod common;

use std::net::{IpAddr, UdpSocket};
use std::os::fd::AsFd;
use std::time::Duration;

use common::ntp_fixtures::{client_request, loopback_responder};
use ringd::ntp::packet::{NtpTimestamp, HEADER_LEN};
use ringd::ntp::ratelimit::RateLimiter;
use ringd::ntp::responder::Responder;
use ringd::sys::allocation_count::{count_allocations, CountingAllocator};
use ringd::sys::clock::realtime_now;
use ringd::sys::mmsg::{RecvBatch, SendBatch};
use ringd::sys::sockopt::enable_rx_timestamps;
use ringd::sys::uring::{RingConfig, UdpRing};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const BATCH: usize = 32;

fn send_batch(clients: &[UdpSocket], server: std::net::SocketAddr, round: u64) {
    for (i, client) in clients.iter().enumerate() {
        client
            .send_to(
                &client_request(NtpTimestamp(round * 1000 + i as u64)),
                server,
            )
            .unwrap();
    }
}

fn drain_replies(clients: &[UdpSocket]) {
    let mut buf = [0u8; 64];
    for client in clients {
        let (len, _) = client.recv_from(&mut buf).unwrap();
        assert_eq!(len, HEADER_LEN);
    }
}

fn clients() -> Vec<UdpSocket> {
    (0..BATCH)
        .map(|i| {
            let s = UdpSocket::bind((IpAddr::from([127, 0, 4, i as u8 + 1]), 0)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s
        })
        .collect()
}

#[test]
fn io_uring_path_allocates_nothing_per_request() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    enable_rx_timestamps(server.as_fd()).unwrap();
    let addr = server.local_addr().unwrap();
    let mut ring = UdpRing::new(vec![server], RingConfig::default()).unwrap();
    let mut responder = loopback_responder(Some(RateLimiter::new(-10, 255, 4, 0, 524_288, 1)));
    let clients = clients();
    let serve_round = |round: u64, ring: &mut UdpRing, responder: &mut Responder| {
        send_batch(&clients, addr, round);
        let mut handled = 0;
        let allocations = count_allocations(|| {
            while handled < BATCH {
                ring.poll(Duration::from_secs(1), |d, out| {
                    handled += 1;
                    let out: &mut [u8; HEADER_LEN] = (&mut out[..HEADER_LEN]).try_into().unwrap();
                    responder.respond(d.payload, d.peer, d.rx_time, realtime_now, out)
                })
                .unwrap();
            }
        });
        drain_replies(&clients);
        allocations
    };
    for round in 0..3 {
        serve_round(round, &mut ring, &mut responder);
    }
    let steady: u64 = (3..50)
        .map(|round| serve_round(round, &mut ring, &mut responder))
        .sum();
    assert_eq!(
        steady,
        0,
        "allocations while serving {} requests",
        47 * BATCH
    );
    assert_eq!(responder.counters().answered.get(), 50 * BATCH as u64);
}

#[test]
fn mmsg_path_allocates_nothing_per_request() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    enable_rx_timestamps(server.as_fd()).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let addr = server.local_addr().unwrap();
    let mut responder = loopback_responder(Some(RateLimiter::new(-10, 255, 4, 0, 524_288, 1)));
    let mut received = RecvBatch::new(64, 1024);
    let mut replies = SendBatch::new(64, HEADER_LEN);
    let clients = clients();
    let mut serve_round = |round: u64, responder: &mut Responder| {
        send_batch(&clients, addr, round);
        let mut handled = 0;
        let allocations = count_allocations(|| {
            while handled < BATCH {
                let count = received.recv(server.as_fd(), 0).unwrap();
                for i in 0..count {
                    let d = received.get(i).unwrap();
                    replies.push(&d.peer, |out| {
                        let out: &mut [u8; HEADER_LEN] =
                            (&mut out[..HEADER_LEN]).try_into().unwrap();
                        responder.respond(d.payload, d.peer, d.rx_time, realtime_now, out)
                    });
                    handled += 1;
                }
                replies.flush(server.as_fd());
            }
        });
        drain_replies(&clients);
        allocations
    };
    for round in 0..3 {
        serve_round(round, &mut responder);
    }
    let steady: u64 = (3..50)
        .map(|round| serve_round(round, &mut responder))
        .sum();
    assert_eq!(
        steady,
        0,
        "allocations while serving {} requests",
        47 * BATCH
    );
}

/// The request kinds whose parsing walks extension fields or MACs, answered and dropped.
#[test]
fn extension_fields_macs_and_drops_allocate_nothing() {
    let mut responder = loopback_responder(None);
    let plain = client_request(NtpTimestamp(7));
    let mut unknown_field = [0u8; 28];
    unknown_field[..4].copy_from_slice(&[0x20, 0x00, 0, 28]);
    let mac = [
        7, 0, 0, 0, 0x5A, 0x5A, 0x5A, 0x5A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let mut symmetric_active = plain;
    symmetric_active[0] = (4 << 3) | 1;
    let answered: [Vec<u8>; 3] = [
        plain.to_vec(),
        [&plain[..], &unknown_field[..]].concat(),
        symmetric_active.to_vec(),
    ];
    let dropped: [Vec<u8>; 3] = [
        [&plain[..], &unknown_field[..], &mac[..]].concat(),
        [&plain[..], &[0; 2][..]].concat(),
        [&plain[..], &[0x11; 8][..]].concat(),
    ];
    let client = "127.0.0.9:40123".parse().unwrap();
    let mut out = [0u8; HEADER_LEN];
    let allocations = count_allocations(|| {
        for _ in 0..500 {
            for datagram in answered.iter().chain(&dropped) {
                responder.respond(datagram, client, None, realtime_now, &mut out);
            }
        }
    });
    assert_eq!(allocations, 0);
    let totals = responder.counters().totals();
    assert_eq!(totals.answered, 1500);
    assert_eq!(totals.received, 3000);
}

#[test]
fn mac_and_nts_requests_allocate_nothing() {
    use ringd::config::chrony;
    use ringd::ntp::answer_policy::{AnswerPolicy, PolicyCell, PolicyFollower};
    use ringd::ntp::clock_state::{ClockCell, ClockSnapshot};
    use ringd::ntp::nts_cookies::{ServerKeys, SessionKeys};
    use ringd::ntp::nts_ntp::{self, MAX_REPLY_LEN};
    use ringd::ntp::symmetric_keys::KeyFile;
    use std::sync::{Arc, RwLock};

    let config = chrony::parse_str("allow 127.0.0.0/8\nlocal stratum 10\n", "test").unwrap();
    let keys = KeyFile::parse("1 SHA256 HEX:00112233445566778899AABBCCDDEEFF\n").table;
    let key = keys.get(1).unwrap().clone();
    let cell = Arc::new(PolicyCell::new(AnswerPolicy::of(&config, keys)));
    let mut responder = Responder::following(
        PolicyFollower::new(cell, 1, 1),
        (1, 1),
        Arc::new(ClockCell::new(ClockSnapshot::UNSYNCHRONISED)),
        -25,
        Arc::new(ringd::metrics::NtpCounters::default()),
    );
    let server_keys = ServerKeys::generate(|| [9; 36]);
    let session = SessionKeys {
        c2s: [1; 32],
        s2c: [2; 32],
    };
    let cookie = server_keys.seal(&session, [3; 16]);
    responder.serve_nts(Arc::new(RwLock::new(server_keys)));

    let mut mac_request = [0u8; 128];
    mac_request[..HEADER_LEN].copy_from_slice(&client_request(NtpTimestamp(5)));
    let mac_len = key.append_mac(&mut mac_request, HEADER_LEN, 4).unwrap();
    let mut nts_request = [0u8; MAX_REPLY_LEN];
    nts_request[..HEADER_LEN].copy_from_slice(&client_request(NtpTimestamp(6)));
    let nts_len = nts_ntp::write_client_request(
        &mut nts_request,
        &[4; 32],
        &cookie,
        2,
        &session.c2s,
        [5; 16],
    )
    .unwrap();
    let client = "127.0.0.9:40123".parse().unwrap();
    let mut out = [0u8; MAX_REPLY_LEN];
    let allocations = count_allocations(|| {
        for _ in 0..200 {
            assert_eq!(
                responder.respond(
                    &mac_request[..mac_len],
                    client,
                    None,
                    realtime_now,
                    &mut out
                ),
                mac_len
            );
            assert_eq!(
                responder.respond(
                    &nts_request[..nts_len],
                    client,
                    None,
                    realtime_now,
                    &mut out
                ),
                nts_len
            );
        }
    });
    assert_eq!(allocations, 0);
}

#[test]
fn the_counter_sees_allocations() {
    let allocations = count_allocations(|| {
        std::hint::black_box(Vec::<u8>::with_capacity(16));
    });
    assert_eq!(allocations, 1);
}
