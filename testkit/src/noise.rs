//! A hand-made caller or callee that speaks protocol version 2 properly:
//! the Noise handshake of `peercall::call::secure` over a [`Client`], then
//! sealed messages. Tests that used to send a raw INVITE use this, so they
//! still test what they meant to (a flood, an odd offer) and not the
//! handshake; the tests of the handshake itself send raw frames.

use crate::{bin, run, Client, Proc};
use peercall::call::secure::{self, Initiator, Secured, SEED_LEN};
use peercall::identity::{Identity, PublicKey};
use peercall::media::srtp::{MediaKeys, PROFILE};
use peercall::wire::{Accept, CallId, Invite, MediaDescription, MediaPorts, Message, Name};
use peercall_srtp::Sender;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh handshake seed (tests need uniqueness, not secrecy).
fn seed() -> [u8; SEED_LEN] {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut s = [0u8; SEED_LEN];
    s[..8].copy_from_slice(&n.to_be_bytes());
    s[8..12].copy_from_slice(&std::process::id().to_be_bytes());
    s
}

/// The key a peer printed at start ("this peer's key is KEY").
pub fn key_of(peer: &mut Proc) -> PublicKey {
    let line = peer.expect("this peer's key is ");
    let text = line
        .rsplit(' ')
        .next()
        .expect("a key after the words")
        .trim();
    text.parse().expect("a public key")
}

/// The key a peer printed at start, found in its output so far (for a
/// helper that holds the process but not its line cursor).
pub fn printed_key(peer: &Proc) -> PublicKey {
    peer.output()
        .lines()
        .find_map(|l| l.trim().strip_prefix("this peer's key is "))
        .expect("the peer printed its key")
        .trim()
        .parse()
        .expect("a public key")
}

/// Creates an identity file at `path` with `peercall id` and returns the
/// key it prints (to put in another peer's allow file before it starts).
pub fn make_identity(path: &Path) -> PublicKey {
    let p = path.to_str().expect("a UTF-8 path");
    let (code, out, err) = run(&bin("peercall"), &["id", "--identity", p]);
    assert_eq!(code, 0, "peercall id: {err}");
    out.trim().parse().expect("peercall id prints a key")
}

/// A directory for a test's identity and allow files, removed on drop.
pub struct KeyDir {
    /// The directory.
    pub path: PathBuf,
}

impl KeyDir {
    /// A new empty directory named for `label`.
    pub fn new(label: &str) -> KeyDir {
        let path =
            crate::process::fresh_temp_dir(&format!("keys-{label}")).expect("a key directory");
        KeyDir { path }
    }

    /// `FILE` in this directory, as a string for a command line.
    pub fn file(&self, name: &str) -> String {
        self.path.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for KeyDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A signalling connection after its handshake: what is sent is sealed,
/// what arrives sealed is opened.
pub struct SecureClient {
    /// The connection underneath, for raw bytes.
    pub client: Client,
    secured: Secured,
    /// Whether this side called (its media keys are the caller's).
    caller: bool,
}

/// How a handshake a test started ended when it did not succeed.
#[derive(Debug)]
pub enum Refused {
    /// The other side answered in clear (an ERROR, usually).
    Answer(Box<Message>),
    /// The connection closed.
    Closed,
    /// The reply did not prove the expected key.
    Failed(secure::SecureError),
}

impl SecureClient {
    /// Connects to a peer's call port at `addr` as `me` and runs the
    /// handshake expecting `callee`'s key.
    pub fn call(addr: SocketAddr, me: &Identity, callee: PublicKey) -> Result<Self, Refused> {
        Self::handshake(Client::connect(addr), me, callee)
    }

    /// Runs the caller's side of the handshake on `client`.
    pub fn handshake(
        mut client: Client,
        me: &Identity,
        callee: PublicKey,
    ) -> Result<Self, Refused> {
        let (init, hello) = Initiator::start(me, callee, seed());
        client.send(&Message::HandshakeInit(hello));
        match client.recv() {
            Some(Message::HandshakeReply(reply)) => match init.finish(&reply) {
                Ok(secured) => Ok(SecureClient {
                    client,
                    secured,
                    caller: true,
                }),
                Err(e) => Err(Refused::Failed(e)),
            },
            Some(other) => Err(Refused::Answer(Box::new(other))),
            None => Err(Refused::Closed),
        }
    }

    /// The callee's side, on a connection a test's listener accepted (a
    /// hand-made callee): reads HANDSHAKE INIT and answers it.
    pub fn answer(stream: TcpStream, me: &Identity) -> SecureClient {
        let mut client = Client::from_stream(stream);
        let Some(Message::HandshakeInit(hello)) = client.recv() else {
            panic!("the caller did not start with HANDSHAKE INIT");
        };
        let (secured, reply) = secure::respond(me, &hello, seed()).expect("a good handshake");
        client.send(&Message::HandshakeReply(reply));
        SecureClient {
            client,
            secured,
            caller: false,
        }
    }

    /// The call's SRTP keys, as this side of the handshake derives them.
    pub fn media_keys(&self) -> MediaKeys {
        MediaKeys::derive(self.secured.media_secret().as_bytes(), self.caller)
    }

    /// An SRTP sender for the video this side sends in the call (a hand-made
    /// peer's media must authenticate, or the other side drops it).
    pub fn video_sender(&self) -> Sender {
        Sender::new(PROFILE, &self.media_keys().send.video.0)
            .expect("a key of the profile's length")
    }

    /// Sends an INVITE for call `id` as `caller`, receiving media on
    /// `ports` with `media` offered, and returns the callee's ACCEPT
    /// (RINGING skipped); panics on any other answer.
    pub fn invite_until_accepted(
        &mut self,
        id: CallId,
        caller: &str,
        ports: MediaPorts,
        media: MediaDescription,
    ) -> Accept {
        self.send(&Message::Invite(Invite {
            call_id: id,
            caller: Name::new(caller).expect("a valid name"),
            ports,
            media,
        }));
        loop {
            match self.recv().expect("an answer before the callee closed") {
                Message::Ringing(_) => {}
                Message::Accept(a) => return a,
                other => panic!("expected ACCEPT, got {other:?}"),
            }
        }
    }

    /// The other side's proved key.
    pub fn peer_key(&self) -> PublicKey {
        self.secured.peer_key()
    }

    /// Sends `msg` sealed.
    pub fn send(&mut self, msg: &Message) {
        let sealed = self.secured.seal(msg).expect("a sealable message");
        self.client.send(&sealed);
    }

    /// The next message, opened if sealed; `None` at end of stream.
    pub fn recv(&mut self) -> Option<Message> {
        match self.client.recv()? {
            Message::Sealed(b) => Some(self.secured.open(&b).expect("a sealed message that opens")),
            other => Some(other),
        }
    }
}

/// A hand-made caller with media sockets: the handshake done, an MJPEG
/// (`width`×`height`) + Opus INVITE sent as "mallory" from two loopback UDP
/// ports, and the callee's ACCEPT read; what a test needs to send media of
/// its own making into a real callee.
pub struct MediaCaller {
    /// The call's signalling (send BYE here).
    pub signalling: SecureClient,
    /// The video port announced in the INVITE.
    pub video: UdpSocket,
    /// The audio port announced in the INVITE.
    pub audio: UdpSocket,
    /// Where the callee receives video.
    pub callee_video: SocketAddr,
}

impl MediaCaller {
    /// Calls the peer at `call_addr` holding `callee`'s key, as `me`, with
    /// call id `id`.
    pub fn call(
        call_addr: SocketAddr,
        me: &Identity,
        callee: PublicKey,
        id: CallId,
        (width, height): (u16, u16),
    ) -> MediaCaller {
        let video = UdpSocket::bind("127.0.0.1:0").expect("a video port");
        let audio = UdpSocket::bind("127.0.0.1:0").expect("an audio port");
        let mut signalling = SecureClient::call(call_addr, me, callee).expect("a handshake");
        let accept = signalling.invite_until_accepted(
            id,
            "mallory",
            MediaPorts {
                audio: audio.local_addr().expect("bound").port(),
                video: video.local_addr().expect("bound").port(),
            },
            crate::mjpeg_opus_offer(width, height, 20),
        );
        MediaCaller {
            signalling,
            video,
            audio,
            callee_video: SocketAddr::new(call_addr.ip(), accept.ports.video),
        }
    }
}
