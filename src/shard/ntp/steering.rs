//! Reuseport steering: a classic BPF program that sends each client address to the same shard.
//!
//! The kernel's default SO_REUSEPORT choice hashes the whole 4-tuple, so one client using
//! several source ports would be spread over shards, and each shard's rate limiter would see
//! only part of its traffic. This program hashes the source address alone; its result is the
//! index of the socket in the reuseport group, i.e. the shard (sockets join in shard order).

use crate::sys::sockopt::BpfInstruction;

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h): class | size | mode or operation.
/// BPF_LD | BPF_W | BPF_ABS (class and size are both 0).
const LD_W_ABS: u16 = 0x20;
const ALU_RSH_K: u16 = 0x04 | 0x70;
const ALU_XOR_X: u16 = 0x04 | 0xa0 | 0x08;
const ALU_MOD_K: u16 = 0x04 | 0x90;
const MISC_TAX: u16 = 0x07;
const RET_A: u16 = 0x06 | 0x10;

/// Loads are relative to the network header when offset by this (SKF_NET_OFF, -0x100000).
const NET_OFFSET: u32 = 0xFFF0_0000;

fn insn(code: u16, k: u32) -> BpfInstruction {
    BpfInstruction {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// The program for sockets of one family: IPv4 hashes the source address at offset 12 of the
/// IP header, IPv6 the four words of the source address at offset 8.
pub fn source_hash_program(ipv6: bool, shards: u32) -> Vec<BpfInstruction> {
    let mut program = Vec::new();
    if ipv6 {
        program.push(insn(LD_W_ABS, NET_OFFSET + 8));
        for offset in [12, 16, 20] {
            program.push(insn(MISC_TAX, 0));
            program.push(insn(LD_W_ABS, NET_OFFSET + offset));
            program.push(insn(ALU_XOR_X, 0));
        }
    } else {
        program.push(insn(LD_W_ABS, NET_OFFSET + 12));
    }
    // Fold the high bits in so that addresses differing only there still spread out.
    for shift in [16, 8] {
        program.push(insn(MISC_TAX, 0));
        program.push(insn(ALU_RSH_K, shift));
        program.push(insn(ALU_XOR_X, 0));
    }
    program.push(insn(ALU_MOD_K, shards.max(1)));
    program.push(insn(RET_A, 0));
    program
}

/// The shard the program picks for an address; the same arithmetic, for tests and documentation.
pub fn shard_for(addr: std::net::IpAddr, shards: u32) -> u32 {
    let mut a = match addr {
        std::net::IpAddr::V4(v4) => u32::from(v4),
        std::net::IpAddr::V6(v6) => {
            let o = v6.octets();
            (0..4).fold(0, |acc, i| {
                acc ^ u32::from_be_bytes([o[i * 4], o[i * 4 + 1], o[i * 4 + 2], o[i * 4 + 3]])
            })
        }
    };
    for shift in [16, 8] {
        a ^= a >> shift;
    }
    a % shards.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter for the instructions the program uses, with the packet's IP header.
    fn run(program: &[BpfInstruction], ip_header: &[u8]) -> u32 {
        let (mut a, mut x) = (0u32, 0u32);
        for i in program {
            match i.code {
                LD_W_ABS => {
                    let at = (i.k - NET_OFFSET) as usize;
                    a = u32::from_be_bytes(ip_header[at..at + 4].try_into().unwrap());
                }
                MISC_TAX => x = a,
                ALU_RSH_K => a >>= i.k,
                ALU_XOR_X => a ^= x,
                ALU_MOD_K => a %= i.k,
                RET_A => return a,
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
        panic!("program fell off the end")
    }

    #[test]
    fn program_matches_the_documented_hash() {
        for shards in [1, 2, 3, 8] {
            let v4 = source_hash_program(false, shards);
            let v6 = source_hash_program(true, shards);
            for n in 0..500u32 {
                let addr4 = std::net::Ipv4Addr::from(0x7F00_0000 | (n * 7919));
                let mut header4 = [0u8; 20];
                header4[12..16].copy_from_slice(&addr4.octets());
                assert_eq!(run(&v4, &header4), shard_for(addr4.into(), shards));

                let addr6 =
                    std::net::Ipv6Addr::from((0x2001_0db8_u128 << 96) | (u128::from(n) * 104_729));
                let mut header6 = [0u8; 40];
                header6[8..24].copy_from_slice(&addr6.octets());
                assert_eq!(run(&v6, &header6), shard_for(addr6.into(), shards));
            }
        }
    }

    #[test]
    fn consecutive_addresses_spread_over_shards() {
        let mut per_shard = [0u32; 4];
        for n in 0..1000u32 {
            per_shard[shard_for(std::net::Ipv4Addr::from(0x7F00_0000 + n).into(), 4) as usize] += 1;
        }
        assert!(per_shard.iter().all(|&c| c > 200), "{per_shard:?}");
    }
}
