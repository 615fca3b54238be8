//! `udp-reflector`: the syscall floor, recvmmsg then sendmmsg of a byte-copied reply to each sender.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ringd_sys::cpu::pin_current_thread;
use ringd_sys::mmsg::{ReadinessPoller, RecvBatch, SendBatch};
use ringload::reflect::reflect;

/// Datagrams per recvmmsg and per sendmmsg.
const BATCH: usize = 64;
/// Receive buffer per datagram; longer requests are cut, and only their header is reflected.
const BUFFER: usize = 512;
/// How often the loop looks at the stop flag while idle.
const STOP_CHECK: Duration = Duration::from_millis(100);
/// Receive buffer asked of the kernel: the same as ringd's, so that loss compares how fast
/// servers drain their queue, not how long the queue is (the kernel caps it at
/// net.core.rmem_max).
const RECEIVE_BUFFER_BYTES: usize = 8 << 20;

#[derive(Parser)]
#[command(
    name = "udp-reflector",
    about = "Answers each NTP request with a reply made by copying bytes only (no clock, no parsing): \
             the cost floor NTP servers are compared with"
)]
struct Args {
    /// Address to serve, e.g. 127.0.0.1:11123 (port 0: any free port, printed when ready).
    #[arg(long)]
    bind: SocketAddr,
    /// Core to pin the reflector to.
    #[arg(long)]
    cpu: Option<usize>,
}

fn serve(args: Args) -> anyhow::Result<()> {
    if let Some(cpu) = args.cpu {
        pin_current_thread(cpu).with_context(|| format!("pinning to CPU {cpu}"))?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    let socket = UdpSocket::bind(args.bind).with_context(|| format!("binding {}", args.bind))?;
    socket
        .set_nonblocking(true)
        .context("making the socket non-blocking")?;
    socket2::SockRef::from(&socket)
        .set_recv_buffer_size(RECEIVE_BUFFER_BYTES)
        .context("sizing the receive buffer")?;
    let mut poller = ReadinessPoller::new(&[socket.as_fd()]);
    let mut recv = RecvBatch::new(BATCH, BUFFER);
    let mut send = SendBatch::new(BATCH, BUFFER);
    let mut reflected: u64 = 0;
    eprintln!(
        "listening on {}",
        socket.local_addr().context("reading the bound address")?
    );
    while !stop.load(Ordering::Relaxed) {
        if poller.wait(STOP_CHECK).context("waiting for requests")? == 0 {
            continue;
        }
        loop {
            let count = recv.recv(socket.as_fd(), 0).context("receiving")?;
            for index in 0..count {
                if let Some(request) = recv.get(index) {
                    send.push(&request.peer, |reply| reflect(request.payload, reply));
                }
            }
            reflected += send.flush(socket.as_fd()).sent as u64;
            if count < recv.capacity() {
                break;
            }
        }
    }
    eprintln!("stopping after {reflected} replies");
    Ok(())
}

fn main() -> ExitCode {
    match serve(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("udp-reflector: {error:#}");
            ExitCode::FAILURE
        }
    }
}
