//! Interleaved mode (RFC 9769) over real loopback sockets: a hand-written interleaved client gets the kernel's transmit time of the previous reply.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::Ringd;
use ringd::ntp::packet::{Header, NtpTimestamp, MODE_CLIENT, MODE_SERVER};
use ringd::sys::clock::realtime_now;

const CONF: &str = "port 0\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\nlocal stratum 10\n";

fn client() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
}

fn now() -> NtpTimestamp {
    NtpTimestamp::from_unix(realtime_now())
}

/// Sends a request with these `origin` and `receive` timestamps and a transmit timestamp of
/// now; returns the request's transmit timestamp, the reply, and when the reply came.
fn exchange(
    socket: &UdpSocket,
    server: SocketAddr,
    origin: NtpTimestamp,
    receive: NtpTimestamp,
) -> (NtpTimestamp, Header, NtpTimestamp) {
    let transmit = now();
    let request = Header {
        version: 4,
        mode: MODE_CLIENT,
        poll: 4,
        origin,
        receive,
        transmit,
        ..Header::default()
    };
    socket.send_to(&request.to_bytes(), server).unwrap();
    let mut buf = [0u8; 128];
    let (len, from) = socket.recv_from(&mut buf).expect("a reply within 5 s");
    let arrived = now();
    assert_eq!((from, len), (server, 48));
    let reply = Header::parse(&buf[..len]).unwrap();
    assert_eq!(reply.mode, MODE_SERVER);
    (transmit, reply, arrived)
}

/// Two exchanges of an interleaved client: the first with an origin of the kind a server's
/// receive timestamp has (lowest bit set) and receive unlike transmit, so the server keeps
/// its timestamps; the second with the first reply's receive timestamp as origin and the
/// client's arrival time of that reply as receive. Returns the first reply, its arrival
/// time, and the second request's transmit time and reply.
fn two_exchanges(server: SocketAddr) -> (Header, NtpTimestamp, NtpTimestamp, Header) {
    let socket = client();
    let (_, first, first_arrived) = exchange(
        &socket,
        server,
        NtpTimestamp(0x1234_5679),
        NtpTimestamp(0x10),
    );
    let (second_sent, second, _) = exchange(&socket, server, first.receive, first_arrived);
    (first, first_arrived, second_sent, second)
}

fn answers_an_interleaved_request_with_the_kernel_transmit_time_of_the_last_reply(io: &str) {
    let ringd = Ringd::start_ntp(CONF, &["--shards", "1", "--io", io], 1);
    assert!(
        !ringd.log.iter().any(|line| line.contains("recvmmsg")) || io == "mmsg",
        "the io_uring backend runs: {:?}",
        ringd.log
    );
    let (first, first_arrived, _, second) = two_exchanges(ringd.ntp_addrs[0]);
    assert_eq!(
        second.origin, first_arrived,
        "interleaved: the origin is the client's receive time of the first reply"
    );
    // The random bits below the precision may blur either transmit time by this much.
    let blur = 1u64 << (32 + i32::from(first.precision)).max(0);
    assert!(
        second.transmit.0 > first.transmit.0 + blur,
        "the kernel's transmit time ({:?}) is later than the time read before the send ({:?})",
        second.transmit,
        first.transmit
    );
    assert!(
        second.transmit.0 < first_arrived.0,
        "the first reply left before the client got it"
    );
    assert!(second.transmit.0 < second.receive.0);
    assert_eq!(
        ringd.ntp_counter(None, "ntp_receive_errors"),
        0,
        "no stray timestamp"
    );
    ringd.stop();
}

#[test]
fn mmsg_answers_an_interleaved_request_with_the_kernel_transmit_time_of_the_last_reply() {
    answers_an_interleaved_request_with_the_kernel_transmit_time_of_the_last_reply("mmsg");
}

#[test]
fn io_uring_answers_an_interleaved_request_with_the_kernel_transmit_time_of_the_last_reply() {
    answers_an_interleaved_request_with_the_kernel_transmit_time_of_the_last_reply("uring");
}

#[test]
fn without_a_client_log_every_request_is_basic() {
    let conf = format!("{CONF}noclientlog\n");
    let ringd = Ringd::start_ntp(&conf, &["--shards", "1", "--io", "mmsg"], 1);
    let (_, _, second_sent, second) = two_exchanges(ringd.ntp_addrs[0]);
    assert_eq!(second.origin, second_sent, "basic: the request's transmit");
    ringd.stop();
}
