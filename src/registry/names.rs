//! Which key owns which name: the bindings and their leases, counted in
//! wall-clock seconds because they outlive the process; taking them back
//! from the file an earlier run saved, and handing them to the shell to
//! save; and the judgement of a REGISTER against them (the name, its
//! look-alikes and the endpoint), which decides whom a claim displaces or
//! why it is refused before anything changes.

use super::{Binding, Event, Registry};
use crate::identity::PublicKey;
use crate::wire::{Message, Name};
use crate::ConnId;
use std::net::SocketAddr;
use std::time::Instant;

#[derive(Debug, Clone, Copy)]
/// The key a name is bound to, and when that key was last seen holding it.
pub(super) struct Owner {
    /// The owner's key.
    pub(super) key: PublicKey,
    /// Seconds since the Unix epoch; the lease counts from here.
    pub(super) last_seen: u64,
}

/// What a REGISTER that passed every check displaces.
pub(super) enum Verdict {
    /// Refused; the answer and event are queued.
    Refused,
    /// Taken: close these connections of the same key (replaced), forget these
    /// look-alike bindings of the same key, then register.
    Take {
        replace: Vec<ConnId>,
        unbind: Vec<Name>,
    },
}

impl Registry {
    /// Tells the registry that the wall clock reads `unix_secs` (seconds
    /// since the Unix epoch) at `now`. Leases are counted in wall-clock time
    /// because they outlive the process; between calls the time is carried
    /// forward from `now`. Until the first call, the first instant seen is
    /// taken as second 0 (leases still run, relative to it).
    pub fn set_wall_clock(&mut self, now: Instant, unix_secs: u64) {
        self.clock = Some((now, unix_secs));
    }

    /// The Unix time at `now`.
    pub(super) fn unix(&self, now: Instant) -> u64 {
        match self.clock {
            Some((at, secs)) if now >= at => secs.saturating_add((now - at).as_secs()),
            Some((at, secs)) => secs.saturating_sub((at - now).as_secs()),
            None => 0,
        }
    }

    /// Starts the wall clock at second 0 if the shell never set it.
    pub(super) fn tick(&mut self, now: Instant) {
        if self.clock.is_none() {
            self.clock = Some((now, 0));
        }
    }

    /// Takes back bindings saved by an earlier run (read at start, before
    /// any connection). Bindings whose lease has run out by the wall clock,
    /// and a name that is a look-alike of one already taken back (a
    /// hand-edited file), are left out. Returns how many were taken back.
    pub fn restore(&mut self, now: Instant, bindings: impl IntoIterator<Item = Binding>) -> usize {
        self.tick(now);
        let unix = self.unix(now);
        let mut kept = 0;
        for b in bindings {
            if self.expired(b.last_seen, unix) {
                continue;
            }
            if self.bindings.len() >= self.config.max_bindings {
                log::warn!(
                    "more saved bindings than --max-bindings; {} left out",
                    b.name
                );
                continue;
            }
            let clash = b
                .name
                .keys()
                .iter()
                .any(|k| self.lookalikes.get(k).is_some_and(|n| *n != b.name))
                || self.bindings.contains_key(&b.name);
            if clash {
                log::warn!("saved binding of {} clashes with another; left out", b.name);
                continue;
            }
            self.bind(b.name, b.key, b.last_seen);
            kept += 1;
        }
        // Restoring is not a change worth writing back.
        self.bindings_changed = false;
        kept
    }

    /// Every binding whose lease still runs, in name order, with the names
    /// held now as seen at `now`: what the shell saves.
    pub fn bindings(&self, now: Instant) -> Vec<Binding> {
        let unix = self.unix(now);
        self.bindings
            .iter()
            .filter_map(|(name, b)| {
                let last_seen = if self.entries.contains_key(name) {
                    unix
                } else if self.expired(b.last_seen, unix) {
                    return None;
                } else {
                    b.last_seen
                };
                Some(Binding {
                    name: name.clone(),
                    key: b.key,
                    last_seen,
                })
            })
            .collect()
    }

    /// The key `name` is bound to, live or not (lease still running or not).
    pub fn owner(&self, name: &Name) -> Option<PublicKey> {
        self.bindings.get(name).map(|b| b.key)
    }

    /// Whether the bindings changed since the last call (a name was bound,
    /// moved to another key, or released, or its holder departed): the shell
    /// saves them then.
    pub fn take_bindings_changed(&mut self) -> bool {
        std::mem::take(&mut self.bindings_changed)
    }

    /// Whether `key` may take `name` at `addr` now, and whom it displaces.
    /// Decides only; the caller acts, so a refusal changes nothing.
    pub(super) fn judge(
        &mut self,
        now: Instant,
        conn: ConnId,
        name: &Name,
        addr: SocketAddr,
        key: PublicKey,
    ) -> Verdict {
        let unix = self.unix(now);
        let mut replace = Vec::new();
        let mut unbind = Vec::new();
        // The name itself.
        if let Some(b) = self.bindings.get(name).copied() {
            let live = self.entries.get(name);
            if b.key != key {
                if live.is_some() || !self.expired(b.last_seen, unix) {
                    let holder = live.map(|h| h.addr);
                    self.send(conn, Message::NameTaken(name.clone()));
                    self.event(Event::NameTaken {
                        name: name.clone(),
                        addr,
                        holder,
                        owner: b.key,
                    });
                    return Verdict::Refused;
                }
                // Decided below; released only if the claim is taken.
                unbind.push(name.clone());
            } else if let Some(h) = live {
                replace.push(h.conn);
            }
        }
        // Its look-alikes: one owner per look-alike family.
        let mut resembled: Vec<Name> = name
            .keys()
            .iter()
            .filter_map(|k| self.lookalikes.get(k))
            .filter(|n| *n != name)
            .cloned()
            .collect();
        resembled.sort();
        resembled.dedup();
        for other in resembled {
            let Some(b) = self.bindings.get(&other).copied() else {
                continue;
            };
            let live = self.entries.get(&other);
            if b.key == key {
                // The owner renamed itself within the family: the new
                // spelling replaces the old one.
                if let Some(h) = live {
                    replace.push(h.conn);
                }
                unbind.push(other);
            } else if live.is_none() && self.expired(b.last_seen, unix) {
                unbind.push(other);
            } else {
                self.send(
                    conn,
                    Message::NameResembles {
                        asked: name.clone(),
                        held: other.clone(),
                    },
                );
                self.event(Event::NameResembles {
                    name: name.clone(),
                    addr,
                    held: other,
                });
                return Verdict::Refused;
            }
        }
        // The endpoint.
        if let Some(holder) = self.endpoints.get(&addr) {
            if holder != name {
                match self.entries.get(holder) {
                    Some(h) if h.key == key => replace.push(h.conn),
                    _ => {
                        let holder = holder.clone();
                        self.send(conn, Message::EndpointTaken(addr));
                        self.event(Event::EndpointTaken {
                            name: name.clone(),
                            addr,
                            holder,
                        });
                        return Verdict::Refused;
                    }
                }
            }
        }
        for n in &unbind {
            if let Some(b) = self.bindings.get(n) {
                if b.key != key {
                    let owner = b.key;
                    self.event(Event::LeaseExpired {
                        name: n.clone(),
                        owner,
                    });
                }
            }
        }
        replace.sort();
        replace.dedup();
        Verdict::Take { replace, unbind }
    }

    /// Whether a lease whose owner was last seen at `last_seen` has run
    /// out at `unix`.
    pub(super) fn expired(&self, last_seen: u64, unix: u64) -> bool {
        let lease = self.config.name_lease.as_secs();
        unix >= last_seen.saturating_add(lease)
    }

    /// Room for one more binding: forgets expired ones not held if full.
    pub(super) fn make_room(&mut self, now: Instant) -> bool {
        if self.bindings.len() < self.config.max_bindings {
            return true;
        }
        let unix = self.unix(now);
        let stale: Vec<Name> = self
            .bindings
            .iter()
            .filter(|(n, b)| !self.entries.contains_key(*n) && self.expired(b.last_seen, unix))
            .map(|(n, _)| n.clone())
            .collect();
        for n in &stale {
            self.unbind(n);
        }
        self.bindings.len() < self.config.max_bindings
    }

    /// Binds `name` (and its look-alikes) to `key`.
    pub(super) fn bind(&mut self, name: Name, key: PublicKey, last_seen: u64) {
        for k in name.keys() {
            self.lookalikes.insert(k, name.clone());
        }
        self.bindings.insert(name, Owner { key, last_seen });
        self.bindings_changed = true;
    }

    /// Forgets `name`'s binding and its look-alikes.
    pub(super) fn unbind(&mut self, name: &Name) {
        if self.bindings.remove(name).is_none() {
            return;
        }
        for k in name.keys() {
            if self.lookalikes.get(&k) == Some(name) {
                self.lookalikes.remove(&k);
            }
        }
        self.bindings_changed = true;
    }
}
