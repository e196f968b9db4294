//! A packet capture of loopback traffic with tcpdump, read back as IPv4 TCP
//! and UDP payloads: what a test needs to look at a call as someone on the
//! network would (is anything readable?). tcpdump is installed by
//! scripts/deps.sh; capturing needs root or CAP_NET_RAW. When it cannot
//! run, [`Capture::start`] says so, and the test fails rather than pass
//! without having looked.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long tcpdump may take to start listening.
pub const START_WAIT: Duration = Duration::from_secs(10);

/// The transport a captured payload came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP (signalling).
    Tcp,
    /// UDP (media).
    Udp,
}

/// One captured IPv4 packet's transport payload.
#[derive(Debug, Clone)]
pub struct Packet {
    /// TCP or UDP.
    pub transport: Transport,
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
    /// The bytes after the TCP or UDP header.
    pub payload: Vec<u8>,
}

/// A running tcpdump writing to a file.
pub struct Capture {
    child: Option<Child>,
    file: PathBuf,
}

impl Capture {
    /// Starts tcpdump on the loopback interface with the pcap `filter`
    /// (e.g. `host 127.0.13.1 or host 127.0.13.2`), and waits until it
    /// listens. `Err` says why it cannot (not installed, not permitted).
    pub fn start(filter: &str) -> Result<Capture, String> {
        let dir = crate::process::fresh_temp_dir("capture")
            .map_err(|e| format!("cannot make a directory for the capture: {e}"))?;
        let file = dir.join("call.pcap");
        let mut child = Command::new("tcpdump")
            .args(["-i", "lo", "-U", "-n", "-s", "0", "-w"])
            .arg(&file)
            .arg(filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run tcpdump ({e}): run scripts/deps.sh"))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut said = Vec::new();
        let deadline = std::time::Instant::now() + START_WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("listening on") => break,
                Ok(line) => said.push(line),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "tcpdump did not start capturing on lo (needs root or CAP_NET_RAW): {}",
                        said.join(" / ")
                    ));
                }
            }
        }
        Ok(Capture {
            child: Some(child),
            file,
        })
    }

    /// Stops the capture (SIGINT, so tcpdump flushes its file) and returns
    /// every IPv4 TCP and UDP packet in it.
    pub fn stop(mut self) -> Result<Vec<Packet>, String> {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
        let bytes = std::fs::read(&self.file).map_err(|e| format!("reading the capture: {e}"))?;
        parse_pcap(&bytes)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = self.file.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// The IPv4 TCP and UDP packets of a classic pcap file (either byte order;
/// link types Ethernet, Linux cooked v1/v2, null/loop and raw IP).
pub fn parse_pcap(bytes: &[u8]) -> Result<Vec<Packet>, String> {
    let header = bytes.get(..24).ok_or("capture file too short")?;
    let magic = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
    let little = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        _ => return Err(format!("not a pcap file (magic {magic:#x})")),
    };
    let u32_at = |b: &[u8], i: usize| -> Option<u32> {
        let raw: [u8; 4] = b.get(i..i + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(raw)
        } else {
            u32::from_be_bytes(raw)
        })
    };
    let link = u32_at(header, 20).ok_or("short header")?;
    let link_len = match link {
        1 => 14,   // Ethernet (what Linux's lo reports)
        113 => 16, // Linux cooked v1
        276 => 20, // Linux cooked v2
        0 | 108 => 4,
        101 => 0, // raw IP
        other => return Err(format!("link type {other} not handled")),
    };
    let mut packets = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let caught = u32_at(bytes, at + 8).ok_or("short record")? as usize;
        let start = at + 16;
        let frame = bytes
            .get(start..start + caught)
            .ok_or("record runs past the end of the file")?;
        at = start + caught;
        if let Some(p) = frame.get(link_len..).and_then(ipv4) {
            packets.push(p);
        }
    }
    Ok(packets)
}

fn ipv4(ip: &[u8]) -> Option<Packet> {
    if ip.first()? >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16_at(ip, 2)?).min(ip.len());
    let proto = *ip.get(9)?;
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(*ip.get(16)?, ip[17], ip[18], ip[19]);
    let l4 = ip.get(ihl..total)?;
    let (transport, payload) = match proto {
        6 => {
            let off = usize::from(l4.get(12)? >> 4) * 4;
            (Transport::Tcp, l4.get(off..)?)
        }
        17 => (Transport::Udp, l4.get(8..)?),
        _ => return None,
    };
    Some(Packet {
        transport,
        src: SocketAddrV4::new(src, u16_at(l4, 0)?),
        dst: SocketAddrV4::new(dst, u16_at(l4, 2)?),
        payload: payload.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ethernet_udp_record_is_read_back() {
        let mut file = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        file.extend_from_slice(&[0; 8]);
        file.extend_from_slice(&262_144u32.to_le_bytes());
        file.extend_from_slice(&1u32.to_le_bytes());
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        let payload = b"hello";
        let total = 20 + 8 + payload.len();
        let mut ip = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0,
            0,
            64,
            17,
            0,
            0,
        ];
        ip.extend_from_slice(&[127, 0, 13, 1, 127, 0, 13, 2]);
        ip.extend_from_slice(&[0x12, 0x34, 0x56, 0x78, 0, 13, 0, 0]);
        ip.extend_from_slice(payload);
        frame.extend_from_slice(&ip);
        file.extend_from_slice(&[0; 8]);
        file.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        file.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        file.extend_from_slice(&frame);
        let got = parse_pcap(&file).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].transport, Transport::Udp);
        assert_eq!(got[0].src, "127.0.13.1:4660".parse().unwrap());
        assert_eq!(got[0].dst, "127.0.13.2:22136".parse().unwrap());
        assert_eq!(got[0].payload, payload);
    }
}
