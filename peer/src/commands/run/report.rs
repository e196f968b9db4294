//! What `peercall run` and `peercall call` print: the membership's and the
//! phone's events in the words the README documents (scripts and tests read
//! these lines), and the reactions the events call for.

use super::call_media::AfterStop;
use super::{plan_exit_code, Peer};
use crate::commands::entry_line;
use crate::exit;
use crate::media::ringer::Ringer;
use crate::media::CallLinks;
use crate::options::AnswerMode;
use crate::window::model::Phase;
use crate::window::Update;
use peercall::call::{self, negotiate, EndReason, Role};
use peercall::membership::{self, Request};
use peercall::wire::RejectReason;
use std::time::Instant;

impl Peer {
    pub(super) fn report_membership(&mut self, e: membership::Event) {
        let reg = self.opts.registry.clone();
        match e {
            membership::Event::Registered {
                registration,
                again,
            } => {
                let word = if again { "registered again" } else { "registered" };
                println!(
                    "{word} as {} at {} with registry {reg}",
                    registration.name, registration.addr
                );
                self.registered = true;
                self.screen
                    .update(Update::Registry(format!("registered with {reg}")));
                if !again {
                    self.plan.registered = true;
                    if let Some(plan) = self.opts.plan.clone() {
                        self.start_call(plan.target);
                    }
                }
            }
            membership::Event::Probing { ms } => println!(
                "{} is registered from this endpoint by an older connection; the registry is checking it (up to {ms} ms)",
                self.opts.name
            ),
            membership::Event::Refused(why) => {
                println!(
                    "registration of {} refused by registry {reg}: {why}; choose another --name or --listen",
                    self.opts.name
                );
                let _ = self.phone.hangup(Instant::now());
                self.exit_code = Some(exit::REFUSED);
            }
            membership::Event::Lost {
                why: why @ membership::Lost::NotARegistry(_),
                retry_in,
            } => {
                if self.opts.plan.is_some() && !self.plan.registered {
                    eprintln!("peercall: {reg} {why}");
                    self.exit_code = Some(exit::PROTOCOL);
                } else {
                    println!("{reg} {why} Retrying in {:.2} s.", retry_in.as_secs_f64());
                    self.registered = false;
                    self.screen.update(Update::Registry(format!("{reg} {why}")));
                }
            }
            membership::Event::Lost { why, .. }
                if self.opts.plan.is_some() && !self.plan.registered =>
            {
                // A one-shot call does not wait for a registry that is not there.
                eprintln!(
                    "peercall: cannot reach the registry at {reg}: {why}; is peercall-registry running there?"
                );
                self.exit_code = Some(exit::UNREACHABLE);
            }
            membership::Event::Lost { why, retry_in } => {
                println!(
                    "registry {reg} unavailable ({why}); retrying in {:.2} s",
                    retry_in.as_secs_f64()
                );
                self.registered = false;
                self.screen.update(Update::Registry(format!(
                    "registry {reg} unavailable ({why}); retrying"
                )));
            }
            membership::Event::Found(entry) => {
                if self.to_dial.take(&entry.name) {
                    // The callee must prove the key the registry binds
                    // its name to (or the allow file's pin, which must agree).
                    self.dial(entry.name, entry.addr, entry.key);
                } else {
                    println!("{}", entry_line(&entry));
                }
            }
            membership::Event::NotFound(name) => {
                println!("{name}: not registered");
                if self.to_dial.take(&name) {
                    self.finish_plan(exit::NOT_REGISTERED);
                }
            }
            membership::Event::Listed(entries) => {
                if !self.screen.list_answered() {
                    if entries.is_empty() {
                        println!("no peers registered");
                    }
                    for e in &entries {
                        println!("{}", entry_line(e));
                    }
                }
                self.screen.update(Update::Peers(
                    entries
                        .iter()
                        .map(|e| (e.name.to_string(), e.addr.to_string()))
                        .collect(),
                ));
            }
            membership::Event::RequestFailed { request, why } => match request {
                Request::Lookup(n) => {
                    if self.to_dial.take(&n) {
                        println!("cannot call {n}: {why}");
                        self.finish_plan(exit::UNREACHABLE);
                    } else {
                        println!("lookup {n} failed: {why}");
                    }
                }
                Request::List => {
                    if !self.screen.list_answered() {
                        println!("list failed: {why}");
                    }
                }
            },
            membership::Event::RegistryError(e) => {
                println!("registry {reg} reports an error: {e}")
            }
            // Only a query (peercall list/lookup) stops on this; a member
            // reconnects instead.
            membership::Event::Misbehaved(why) => println!("registry {reg}: {why}"),
            membership::Event::Left(reason) => {
                self.registered = false;
                match reason {
                    Some(r) => println!("goodbye from registry {reg}: {r}"),
                    None => println!("left registry {reg} (no goodbye received)"),
                }
                self.exit_code = Some(self.plan.outcome.unwrap_or(exit::OK));
            }
        }
    }

    pub(super) fn report_call(&mut self, e: call::Event) {
        let now = Instant::now();
        match e {
            call::Event::Calling { peer } => {
                println!("INVITE sent to {peer}; waiting for an answer");
                self.show_phase(Phase::Calling {
                    peer: peer.to_string(),
                    ringing: false,
                });
            }
            call::Event::Ringing { peer } => {
                println!("ringing {peer}");
                self.show_phase(Phase::Calling {
                    peer: peer.to_string(),
                    ringing: true,
                });
            }
            call::Event::Incoming {
                peer,
                key,
                conn,
                offer,
            } => {
                let from = self
                    .calls
                    .peer(conn)
                    .map_or_else(|| "?".to_string(), |p| p.to_string());
                println!("incoming call from {peer} ({from}) — accept or reject?");
                let allowed = self.allowed.list.contains(&key);
                if allowed {
                    let known = self.allowed.list.name_of(&key).unwrap_or("no name");
                    println!("verified caller: key {key} is in the allow file ({known})");
                } else {
                    println!(
                        "unverified caller: key {key} is not in the allow file {}; type trust to add it",
                        self.allowed.path.display()
                    );
                }
                self.show_phase(Phase::Ringing {
                    peer: peer.to_string(),
                    from: from.clone(),
                    key: (!allowed).then(|| key.to_string()),
                });
                log::debug!("offer: {}", negotiate::describe(&offer));
                match self.opts.answer {
                    AnswerMode::Ask => self.ringer = Ringer::start(&self.opts.media.audio_out),
                    AnswerMode::AutoAccept if allowed => {
                        println!("answering automatically (--auto-accept)");
                        self.accept(now);
                    }
                    AnswerMode::AutoAccept => {
                        println!(
                            "rejecting {peer}: its key is not in the allow file (--auto-accept answers only those; --auto-accept-anyone answers all)"
                        );
                        let _ = self.phone.reject_because(now, RejectReason::NotAllowed);
                    }
                    AnswerMode::AutoAcceptAnyone => {
                        println!("answering automatically (--auto-accept-anyone)");
                        self.accept(now);
                    }
                    AnswerMode::RejectAll => {
                        println!("rejecting automatically");
                        let _ = self.phone.reject(now);
                    }
                }
            }
            call::Event::Established(s) => {
                // The card is the call's speaker now.
                self.ringer = None;
                let ip = self
                    .phone
                    .status(now)
                    .and_then(|st| self.calls.peer(st.conn))
                    .map_or_else(|| "?".to_string(), |p| p.ip().to_string());
                let how = match s.role {
                    Role::Caller => format!("{} accepted", s.peer),
                    Role::Callee => format!("accepted the call from {}", s.peer),
                };
                println!(
                    "{how}: call established; we receive audio on port {} and video on port {}, {} receives audio at {ip}:{} and video at {ip}:{}; {}",
                    s.local_ports.audio,
                    s.local_ports.video,
                    s.peer,
                    s.remote_ports.audio,
                    s.remote_ports.video,
                    negotiate::describe(&s.media)
                );
                if let Some(secs) = self.opts.plan.as_ref().and_then(|p| p.seconds) {
                    self.plan.hangup_at = Some(now + secs);
                }
                let pictures = self.screen.pictures();
                let links = CallLinks {
                    screen: pictures.clone(),
                    muted: self.screen.muted.clone(),
                };
                self.media.start(&s, &ip, &self.opts.media, links);
                self.show_phase(Phase::InCall {
                    peer: s.peer.to_string(),
                    since: now,
                    pictures,
                });
            }
            call::Event::Ended {
                peer,
                reason,
                duration,
            } => {
                self.ringer = None;
                self.plan.hangup_at = None;
                let after = duration.map_or(String::new(), |d| {
                    format!(" after {:.1} s", d.as_secs_f64())
                });
                let line = match &reason {
                    EndReason::Rejected(r) => format!("call to {peer} rejected: {r}"),
                    EndReason::WrongKey { .. } => format!("not calling {peer}: {reason}"),
                    _ => format!("call with {peer} ended: {reason}{after}"),
                };
                self.show_phase(Phase::Idle);
                self.screen.update(Update::Notice(line.clone()));
                let after = AfterStop {
                    line,
                    plan_code: self.plan.dialed.then(|| plan_exit_code(&reason)),
                };
                let json = self.opts.media.report_json;
                if let Some(after) = self.media.end(peer.as_str(), json, after) {
                    self.call_over(after);
                }
            }
            call::Event::Missed {
                peer,
                reason,
                media,
            } => {
                self.ringer = None;
                let line = match media {
                    Some(why) => format!("missed call from {peer}: answered {reason} ({why})"),
                    None => format!("missed call from {peer}: answered {reason}"),
                };
                println!("{line}");
                self.show_phase(Phase::Idle);
                self.screen.update(Update::Notice(line));
            }
            call::Event::PeerError(e) => println!("the other peer reports an error: {e}"),
        }
    }

    pub(super) fn status(&self, now: Instant) {
        let Some(s) = self.phone.status(now) else {
            println!("no call");
            return;
        };
        let role = match s.role {
            Role::Caller => "we called",
            Role::Callee => "they called",
        };
        let addr = self
            .calls
            .peer(s.conn)
            .map_or_else(|| "?".to_string(), |p| p.ip().to_string());
        match (&s.session, s.duration) {
            (Some(sess), Some(d)) => println!(
                "call with {} ({role}): established for {:.0} s; we receive audio on port {} and video on port {}; {} receives audio at {addr}:{} and video at {addr}:{}; {}",
                s.peer,
                d.as_secs_f64(),
                sess.local_ports.audio,
                sess.local_ports.video,
                s.peer,
                sess.remote_ports.audio,
                sess.remote_ports.video,
                negotiate::describe(&sess.media)
            ),
            _ => println!("call with {} ({role}): {}", s.peer, s.phase),
        }
    }
}
