//! The FTP transfer engine: moves a listing or a file over an established data connection.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use compio::buf::BufResult;
use compio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use compio::net::TcpStream;

use crate::ftp::action::{DataJob, TransferOutcome};

/// Bytes moved per read or write.
const CHUNK: usize = 64 * 1024;

enum Failure {
    Network,
    File,
    Stalled,
}

/// Runs `job` on `stream`; every network step must progress within `stall_timeout`.
pub async fn run(mut stream: TcpStream, job: DataJob, stall_timeout: Duration) -> TransferOutcome {
    let mut bytes = 0u64;
    let result = match job {
        DataJob::Send(listing) => send_bytes(&mut stream, listing, &mut bytes, stall_timeout).await,
        DataJob::SendFile { file, offset } => {
            send_file(&mut stream, &file, offset, &mut bytes, stall_timeout).await
        }
        DataJob::ReceiveFile { file } => {
            receive_file(&mut stream, file, &mut bytes, stall_timeout).await
        }
    };
    let _ = compio::time::timeout(stall_timeout, stream.shutdown()).await;
    match result {
        Ok(()) => TransferOutcome::Complete { bytes },
        Err(Failure::Network) => TransferOutcome::NetworkFailed { bytes },
        Err(Failure::File) => TransferOutcome::FileFailed { bytes },
        Err(Failure::Stalled) => TransferOutcome::TimedOut { bytes },
    }
}

async fn write_chunk(
    stream: &mut TcpStream,
    chunk: Vec<u8>,
    stall_timeout: Duration,
) -> Result<Vec<u8>, Failure> {
    match compio::time::timeout(stall_timeout, stream.write_all(chunk)).await {
        Err(_) => Err(Failure::Stalled),
        Ok(BufResult(Err(_), _)) => Err(Failure::Network),
        Ok(BufResult(Ok(()), chunk)) => Ok(chunk),
    }
}

async fn send_bytes(
    stream: &mut TcpStream,
    data: Vec<u8>,
    bytes: &mut u64,
    stall_timeout: Duration,
) -> Result<(), Failure> {
    let len = data.len() as u64;
    write_chunk(stream, data, stall_timeout).await?;
    *bytes = len;
    Ok(())
}

async fn send_file(
    stream: &mut TcpStream,
    file: &File,
    offset: u64,
    bytes: &mut u64,
    stall_timeout: Duration,
) -> Result<(), Failure> {
    let mut buffer = vec![0u8; CHUNK];
    let mut position = offset;
    loop {
        buffer.resize(CHUNK, 0);
        let read = file
            .read_at(&mut buffer, position)
            .map_err(|_| Failure::File)?;
        if read == 0 {
            return Ok(());
        }
        buffer.truncate(read);
        buffer = write_chunk(stream, buffer, stall_timeout).await?;
        position += read as u64;
        *bytes += read as u64;
    }
}

async fn receive_file(
    stream: &mut TcpStream,
    mut file: File,
    bytes: &mut u64,
    stall_timeout: Duration,
) -> Result<(), Failure> {
    let mut buffer = Vec::with_capacity(CHUNK);
    loop {
        buffer.clear();
        let BufResult(read, returned) =
            match compio::time::timeout(stall_timeout, stream.read(buffer)).await {
                Err(_) => return Err(Failure::Stalled),
                Ok(result) => result,
            };
        buffer = returned;
        match read {
            Err(_) => return Err(Failure::Network),
            Ok(0) => break,
            Ok(n) => {
                file.write_all(&buffer[..n]).map_err(|_| Failure::File)?;
                *bytes += n as u64;
            }
        }
    }
    file.flush().map_err(|_| Failure::File)?;
    Ok(())
}
