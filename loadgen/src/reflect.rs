//! The reflector's whole reply logic: turn a request into a structurally valid reply by copying bytes.
//!
//! The reflector is the floor an NTP server's cost is compared with: recvmmsg, this, sendmmsg.
//! It reads no clock and parses nothing, yet its replies pass ringload's validator, so the
//! same load and the same counting apply to it as to real servers: mode 4 with the request's
//! version, a fixed stratum, and the request's transmit timestamp copied into origin, receive
//! and transmit. Its timings are therefore meaningless (T1 = T2 = T3), and only its rates, loss
//! and CPU time are compared.

use ntp_wire::packet::{HEADER_LEN, MODE_SERVER};

/// Stratum written into reflected replies, the same as the `local stratum 10` of the servers
/// it is compared with.
pub const REFLECTED_STRATUM: u8 = 10;

const VERSION_BITS: u8 = 0b0011_1000;

/// Writes the reply to `request` into `reply` and returns its length, or 0 (nothing to send)
/// when the request is shorter than an NTP header. Bytes past the header are not reflected.
pub fn reflect(request: &[u8], reply: &mut [u8]) -> usize {
    let (Some(request), Some(reply)) = (request.get(..HEADER_LEN), reply.get_mut(..HEADER_LEN))
    else {
        return 0;
    };
    reply.copy_from_slice(request);
    reply[0] = (request[0] & VERSION_BITS) | MODE_SERVER;
    reply[1] = REFLECTED_STRATUM;
    let transmit = &request[40..48];
    reply[24..32].copy_from_slice(transmit);
    reply[32..40].copy_from_slice(transmit);
    HEADER_LEN
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntp::request::{request_bytes, RequestInfo};
    use crate::ntp::validate::{validate_reply, ReplyAuth, Verdict};
    use ntp_wire::packet::{Header, NtpTimestamp, UnixTime};

    #[test]
    fn reflected_requests_pass_validation() {
        for version in 1..=4 {
            let transmit = NtpTimestamp(0xE8D4_A510_0000_0123);
            let request = request_bytes(version, transmit);
            let mut reply = [0u8; 64];
            assert_eq!(reflect(&request, &mut reply), HEADER_LEN);
            let header = Header::parse(&reply).unwrap();
            assert_eq!(
                (header.leap, header.version, header.mode),
                (0, version, MODE_SERVER)
            );
            assert_eq!(
                (header.origin, header.receive, header.transmit),
                (transmit, transmit, transmit)
            );
            let info = RequestInfo {
                transmit,
                version,
                timed: true,
                kernel_t1: None,
            };
            let t4 = transmit.to_unix_near(UnixTime {
                secs: 1_700_000_000,
                nanos: 0,
            });
            assert!(matches!(
                validate_reply(&info, &reply, t4, &mut ReplyAuth::None),
                Verdict::Valid(_)
            ));
        }
    }

    #[test]
    fn short_requests_and_small_buffers_give_nothing() {
        let mut reply = [0u8; 64];
        assert_eq!(reflect(&[0x23; 47], &mut reply), 0);
        assert_eq!(reflect(&[0x23; 48], &mut reply[..47]), 0);
    }

    #[test]
    fn extensions_are_not_reflected() {
        let mut request = [0u8; 68];
        request[0] = 0x23;
        let mut reply = [0u8; 128];
        assert_eq!(reflect(&request, &mut reply), HEADER_LEN);
    }
}
