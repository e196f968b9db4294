//! The registry's address as the user gives it (`HOST:PORT`, `HOST`, an IPv6
//! literal in brackets), resolved afresh at each connection attempt so a board
//! that boots before DNS works still finds its registry later.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

/// The registry's well-known port, used when `--registry` names only a host.
pub const DEFAULT_REGISTRY_PORT: u16 = 4700;

/// A registry address: a host (name or IP) and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryAddr {
    host: String,
    port: u16,
}

impl RegistryAddr {
    /// Parses `HOST:PORT`, `HOST`, `[V6]:PORT` or a bare IPv6 address.
    pub fn parse(s: &str) -> Result<RegistryAddr, String> {
        let bad = || {
            format!(
                "--registry takes HOST:PORT, like 127.0.0.1:{DEFAULT_REGISTRY_PORT} or registry.local:{DEFAULT_REGISTRY_PORT} (got '{s}')"
            )
        };
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(RegistryAddr {
                host: a.ip().to_string(),
                port: a.port(),
            });
        }
        if let Ok(ip) = s.parse::<std::net::IpAddr>() {
            return Ok(RegistryAddr {
                host: ip.to_string(),
                port: DEFAULT_REGISTRY_PORT,
            });
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
            None => (s, DEFAULT_REGISTRY_PORT),
        };
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !host_ok || port == 0 {
            return Err(bad());
        }
        Ok(RegistryAddr {
            host: host.to_owned(),
            port,
        })
    }

    /// Resolves the host; a clear sentence when it does not resolve.
    pub fn resolve(&self) -> Result<Vec<SocketAddr>, String> {
        match (self.host.as_str(), self.port).to_socket_addrs() {
            Ok(a) => {
                let v: Vec<SocketAddr> = a.collect();
                if v.is_empty() {
                    Err(format!("{} has no address", self.host))
                } else {
                    Ok(v)
                }
            }
            Err(e) => Err(format!("cannot resolve {}: {e}", self.host)),
        }
    }
}

impl fmt::Display for RegistryAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_users_type() {
        assert_eq!(
            RegistryAddr::parse("127.0.0.1:4800").unwrap().to_string(),
            "127.0.0.1:4800"
        );
        assert_eq!(
            RegistryAddr::parse("127.0.0.1").unwrap().to_string(),
            "127.0.0.1:4700"
        );
        assert_eq!(
            RegistryAddr::parse("registry.local").unwrap().to_string(),
            "registry.local:4700"
        );
        assert_eq!(
            RegistryAddr::parse("[::1]:4701").unwrap().to_string(),
            "[::1]:4701"
        );
        assert_eq!(
            RegistryAddr::parse("::1").unwrap().to_string(),
            "[::1]:4700"
        );
        for bad in ["", "host:", "host:99999", "a b:1", "host:0", ":4700"] {
            assert!(RegistryAddr::parse(bad).is_err(), "{bad}");
        }
    }
}
