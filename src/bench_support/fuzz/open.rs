//! The `open` target: one receiving [`Envelope`] under a script of sealed, changed,
//! replayed, forged and arbitrary packets, checked against a model of what it must take.
//!
//! ```text
//! fuzz bytes: setup (cipher, keys held, sender bound, skew, plaintext refused) | op | op | ...
//! op % 8: 0, 7 raw bytes on either transport
//!         1, 2 a sender seals a plain packet (a valid header, then messages from `Cast` or raw
//!              bytes) as sent at a fuzz-chosen time; it is opened as it is, on the other
//!              transport, or flipped, cut or lengthened; maybe again (a replay); maybe held
//!         3    a held packet is opened again (a late replay, or out of order)
//!         4    time passes on the receiver (its clock never goes back)
//!         5    a sender restarts (new nonce prefix, key, cipher, label), or seals up to 300
//!              packets nobody receives (its counter jumps past the replay window)
//!         6    plaintext is refused from now on, or taken again
//! ```
//! Three senders seal with one of four keys (the receiver holds the first zero to three),
//! the receiver's cipher or the other, the cluster's label or another's. Nothing panics;
//! sealing gives the header flagged, the key id and the sender's next nonce; a packet with
//! a key held, the cipher and the label opens on its transport to exactly its plaintext
//! within the skew, once (then `Replayed`); nothing changed even authenticates; beyond the
//! skew is `Stale`; the guard takes what [`Model`] takes (no packet twice), and holds no
//! more senders than its bound.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{Cast, Input, put_header};
use crate::codec::{HEADER_LEN, Header, MAGIC, Message, PROTOCOL_VERSION, encode_packet};
use crate::seal::{Cipher, Envelope, KEY_ID_LEN, Key, Keyring, OpenError, PrefixSource};
use crate::seal::{SEALED, SEALED_OVERHEAD, SealError, Transport};

/// The receiver's cluster, and another label.
const CLUSTER: &str = "fuzz";
const OTHER: &str = "fuzz-other";
/// The receiver's clock at the start, ms since the Unix epoch.
const START_MS: u64 = 1_767_225_600_000;
/// Counters below a sender's highest the guard tells apart; how often it forgets expired
/// senders (`seal/replay.rs`). Where a nonce starts; its random prefix (`seal/envelope.rs`).
const WINDOW: u32 = 256;
const SWEEP_MS: u64 = 1_000;
const NONCE_AT: usize = HEADER_LEN + KEY_ID_LEN;
const PREFIX_LEN: usize = 8;
/// Senders; packets sealed per input at most, and held for later (these bound the cost).
const SENDERS: usize = 3;
const MAX_SEALS: usize = 4_096;
const HELD: usize = 8;
const TRANSPORTS: [Transport; 2] = [Transport::Datagram, Transport::Frame];
/// A nonce: the sender's random prefix and its counter.
type Nonce = ([u8; PREFIX_LEN], u32);

/// Runs the script `data` on a fresh receiving envelope; panics where it and the model differ.
pub fn open(data: &[u8]) {
    let mut input = Input::new(data);
    let mut fuzz = Open::new(input.u8());
    while !input.is_empty() && fuzz.exact {
        fuzz.step(&mut input);
        let senders = fuzz.rx.senders();
        assert!(senders <= fuzz.model.max, "senders over the bound");
        let model = fuzz.model.senders.len();
        assert!(!fuzz.exact || senders == model, "guard and model disagree");
    }
}

/// The receiver under test, the senders, and what is known of what they sealed.
struct Open {
    rx: Envelope,
    /// The receiver's keys (none: a node without keys).
    ring: Option<Keyring>,
    cipher: Cipher,
    require: bool,
    now: u64,
    senders: Vec<Sender>,
    /// Sender starts so far: each seeds a nonce prefix.
    starts: u64,
    seals: usize,
    held: Vec<Sealed>,
    model: Model,
    /// Whether the model knows all the guard saw: not once a raw op authenticates (a
    /// genuine packet the fuzzer found), which ends the script.
    exact: bool,
    cast: Cast,
}

/// One sender: its envelope (nonces), keyring, the next counter it must use, and why the
/// receiver refuses all it seals (a key not held, the other cipher or label), if it does.
struct Sender {
    envelope: Envelope,
    ring: Keyring,
    next: u32,
    refused: Option<OpenError>,
}

/// A packet sealed, with all that decides whether it opens.
#[derive(Clone)]
struct Sealed {
    bytes: Vec<u8>,
    plain: Vec<u8>,
    transport: Transport,
    sent: u64,
    nonce: Nonce,
    refused: Option<OpenError>,
}

impl Open {
    fn new(setup: u8) -> Open {
        let cipher = [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305][usize::from(setup & 1)];
        let keys_held = usize::from(setup >> 1) % 4;
        let ring = (keys_held > 0).then(|| {
            let mut ring = Keyring::with_cipher(cipher, key(0));
            (1..keys_held).for_each(|k| ring.install(key(k)).unwrap_or_else(|_| unreachable!()));
            ring
        });
        let max = 1 + usize::from(setup >> 3) % 4;
        let skew = [60_000, 1_000, 0, 30_000][usize::from(setup >> 5) % 4];
        let require = setup & 0x80 != 0;
        let source = PrefixSource::Seeded(Box::new(ChaCha8Rng::seed_from_u64(0)));
        let mut open = Open {
            rx: Envelope::new(CLUSTER, skew, max, source, require),
            ring,
            cipher,
            require,
            now: START_MS,
            senders: Vec::new(),
            starts: 0,
            seals: 0,
            held: Vec::new(),
            model: Model::default(),
            exact: true,
            cast: Cast::new(3),
        };
        (open.model.skew, open.model.max) = (skew, max);
        open.senders = (0..SENDERS).map(|_| open.sender(0)).collect();
        open
    }

    fn step(&mut self, input: &mut Input<'_>) {
        match input.u8() % 8 {
            0 | 7 => {
                let on = TRANSPORTS[input.below(2)];
                self.arbitrary(input.bytes16(2_000), on, false);
            }
            1 | 2 => {
                let s = input.below(SENDERS);
                let transport = TRANSPORTS[input.below(2)];
                let plain = self.plain(input);
                let (later, span) = (input.u8() % 2 == 0, self.span(input));
                let sent = [self.now.saturating_sub(span), self.now.saturating_add(span)]
                    [usize::from(later)];
                let Some(p) = self.seal(s, transport, plain, sent) else {
                    return;
                };
                let (how, mut bad, n) = (input.u8(), p.bytes.clone(), p.bytes.len());
                match how % 8 {
                    3 => bad[usize::from(input.u16()) % n] ^= input.u8().max(1),
                    4 => bad.truncate(usize::from(input.u16()) % n),
                    5 => bad.extend_from_slice(&[input.u8(); 16][..1 + input.below(16)]),
                    6 => self.genuine(&p, other(p.transport)),
                    _ => self.genuine(&p, p.transport),
                }
                // Said, not compared: a comparison would show the fuzzer genuine packets.
                if matches!(how % 8, 3..=5) {
                    self.arbitrary(&bad, p.transport, true);
                }
                if how & 0x40 != 0 {
                    self.genuine(&p, p.transport);
                }
                if how & 0x20 != 0 {
                    self.held.insert(0, p);
                    self.held.truncate(HELD);
                }
            }
            3 => {
                if let Some(p) = self.held.get(input.below(self.held.len())).cloned() {
                    let on = [p.transport, other(p.transport)][usize::from(input.u8() % 4 == 0)];
                    self.genuine(&p, on);
                }
            }
            4 => self.now = self.now.saturating_add(self.span(input)),
            5 => {
                let s = input.below(SENDERS);
                if input.u8() % 4 == 0 {
                    self.senders[s] = self.sender(input.u8());
                    return;
                }
                let mut plain = Vec::with_capacity(HEADER_LEN);
                put_header(&mut plain, &header(CLUSTER));
                for _ in 0..1 + input.u16() % 300 {
                    self.seal(s, Transport::Datagram, plain.clone(), self.now);
                }
            }
            _ => {
                self.require = input.u8() % 2 == 1;
                self.rx.set_require_sealed(self.require);
            }
        }
    }

    /// A sender with a new nonce prefix; `choice` picks its key (mostly the first), cipher
    /// (mostly the receiver's) and label (mostly the cluster's).
    fn sender(&mut self, choice: u8) -> Sender {
        self.starts += 1;
        let k = [0, 0, 0, 1, 1, 2, 2, 3][usize::from(choice % 8)];
        let (other_cipher, label_ours) = ((choice >> 3) % 4 == 3, (choice >> 5) % 4 != 3);
        let ciphers = [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305];
        let cipher = ciphers[usize::from((self.cipher == ciphers[0]) == other_cipher)];
        let held = self
            .ring
            .as_ref()
            .is_some_and(|ring| ring.contains(key(k).id()));
        let refused = match held {
            false => Some(OpenError::UnknownKey),
            true => (other_cipher || !label_ours).then_some(OpenError::Forged),
        };
        let source = PrefixSource::Seeded(Box::new(ChaCha8Rng::seed_from_u64(self.starts)));
        let label = if label_ours { CLUSTER } else { OTHER };
        let envelope = Envelope::new(label, 0, 1, source, false);
        let ring = Keyring::with_cipher(cipher, key(k));
        Sender {
            envelope,
            ring,
            next: 0,
            refused,
        }
    }

    /// A plain packet: mostly this cluster's header and messages built by [`Cast`], or raw
    /// bytes; rarely another cluster's, or not plain at all.
    fn plain(&self, input: &mut Input<'_>) -> Vec<u8> {
        let shape = input.u8();
        let header = header(if shape % 16 == 1 { OTHER } else { CLUSTER });
        let mut plain = Vec::new();
        put_header(&mut plain, &header);
        if shape & 0x10 == 0 {
            let messages = (0..1 + input.below(3)).map(|_| self.cast.message(input, &[]));
            plain = encode_packet(&header, &messages.collect::<Vec<Message>>()).unwrap_or(plain);
        } else {
            plain.extend_from_slice(input.bytes16(1_500));
        }
        match (shape % 16, shape >> 5) {
            (2, 0) => plain.truncate(input.below(HEADER_LEN)),
            (2, flags) => plain[3] = flags,
            _ => {}
        }
        plain
    }

    /// A span of time (passing, or between a packet's time and now) where edges are likely:
    /// none, 1 ms, the sweep period, the skew, just past it, past it and a sweep twice, any.
    fn span(&self, input: &mut Input<'_>) -> u64 {
        let skew = self.model.skew;
        match input.u8() % 8 {
            i @ 0..6 => [0, 1, SWEEP_MS, skew, skew + 1, 2 * skew + SWEEP_MS + 1][usize::from(i)],
            6 => input.u16().into(),
            _ => input.u64() >> (input.u8() % 64),
        }
    }

    /// Sender `s` seals `plain` (unless over [`MAX_SEALS`]), checked.
    fn seal(&mut self, s: usize, on: Transport, plain: Vec<u8>, sent: u64) -> Option<Sealed> {
        self.seals += 1;
        if self.seals > MAX_SEALS {
            return None;
        }
        let sender = &mut self.senders[s];
        let not_plain = plain.len() < HEADER_LEN || plain[3] != 0;
        let bytes = match sender.envelope.seal(&sender.ring, on, &plain, sent) {
            Err(SealError::NotPlain) if not_plain => return None,
            Ok(_) if not_plain => panic!("sealed what is not a plain packet"),
            sealed => sealed.unwrap_or_else(|e| panic!("could not seal: {e:?}")),
        };
        assert_eq!(bytes.len() - plain.len(), SEALED_OVERHEAD, "overhead");
        assert_eq!((&bytes[..3], bytes[3]), (&plain[..3], SEALED), "the header");
        assert_eq!(bytes[4..HEADER_LEN], plain[4..HEADER_LEN], "the cluster id");
        let id = sender.ring.primary().0;
        assert_eq!(bytes[HEADER_LEN..NONCE_AT], id, "key id");
        let (prefix, counter) = bytes[NONCE_AT..].split_at(PREFIX_LEN);
        let prefix: [u8; PREFIX_LEN] = prefix.try_into().unwrap_or_else(|_| unreachable!());
        let counter = u32::from_be_bytes([counter[0], counter[1], counter[2], counter[3]]);
        assert_eq!(counter, sender.next, "counter skipped, repeated, restarted");
        sender.next += 1;
        let (nonce, refused) = ((prefix, counter), sender.refused.clone());
        Some(Sealed {
            bytes,
            plain,
            transport: on,
            sent,
            nonce,
            refused,
        })
    }

    /// Opens the unchanged packet `p` on `transport`: exactly what the model says.
    fn genuine(&mut self, p: &Sealed, on: Transport) {
        let got = self.rx.open(self.ring.as_ref(), on, &p.bytes, self.now);
        let got = got.map(Cow::into_owned);
        let want = if p.plain[4..HEADER_LEN] != header(CLUSTER).cluster.to_be_bytes() {
            Err(OpenError::WrongCluster)
        } else if let Some(refused) = p.refused.clone() {
            Err(refused)
        } else if on != p.transport {
            Err(OpenError::Forged)
        } else {
            self.model.accept(p.nonce, p.sent, self.now)
        };
        match want {
            Ok(()) => assert_eq!(got.as_ref(), Ok(&p.plain), "did not open to its plaintext"),
            Err(e) => assert_eq!(got, Err(e), "not the refusal the model says"),
        }
    }

    /// Opens `bytes`, `changed` from a sealed packet or arbitrary: plaintext only as it
    /// came and where allowed; what is changed never authenticates.
    fn arbitrary(&mut self, bytes: &[u8], on: Transport, changed: bool) {
        let ours = bytes.get(..3) == Some(&[MAGIC[0], MAGIC[1], PROTOCOL_VERSION][..]);
        let sealed = ours && bytes[3..].first().is_some_and(|f| f & SEALED != 0);
        match self.rx.open(self.ring.as_ref(), on, bytes, self.now) {
            Ok(Cow::Borrowed(plain)) => {
                assert!(!sealed && !self.require, "plaintext taken where it is not");
                assert_eq!(plain, bytes, "plaintext changed on the way");
            }
            Err(OpenError::Plaintext) => assert!(!sealed && self.require, "not plaintext"),
            Err(OpenError::Stale | OpenError::Replayed | OpenError::TooManySenders) => {
                assert!(sealed && !changed, "a changed packet authenticated");
                self.exact = false;
            }
            Err(e) => assert!(sealed, "{e:?} for plaintext"),
            Ok(Cow::Owned(plain)) => {
                assert!(sealed && !changed, "a changed packet opened");
                assert_eq!(plain.len() + SEALED_OVERHEAD, bytes.len(), "its size");
                assert_eq!((&plain[..3], plain[3]), (&bytes[..3], 0), "its header");
                self.exact = false;
            }
        }
    }
}

/// The replay guard as `seal/replay.rs` describes it, with a set where it keeps a bitmap;
/// and every packet ever taken, none of which may be taken twice.
#[derive(Default)]
struct Model {
    skew: u64,
    max: usize,
    /// Per sender prefix: the newest time taken, the highest counter, the window's counters.
    senders: HashMap<[u8; PREFIX_LEN], (u64, u32, BTreeSet<u32>)>,
    next_sweep: u64,
    taken: HashSet<Nonce>,
}

impl Model {
    /// Whether the authentic packet with `nonce`, sealed at `sent`, is taken at `now`.
    fn accept(&mut self, nonce: Nonce, sent: u64, now: u64) -> Result<(), OpenError> {
        let (prefix, counter) = nonce;
        if sent.abs_diff(now) > self.skew {
            return Err(OpenError::Stale);
        }
        if now >= self.next_sweep || self.senders.len() >= self.max {
            let oldest = now.saturating_sub(self.skew);
            self.senders.retain(|_, (newest, ..)| *newest >= oldest);
            self.next_sweep = now.saturating_add(SWEEP_MS);
        }
        let full = self.senders.len() >= self.max;
        match self.senders.get_mut(&prefix) {
            None if full => return Err(OpenError::TooManySenders),
            None => {
                self.senders
                    .insert(prefix, (sent, counter, BTreeSet::from([counter])));
            }
            Some((newest, highest, window)) => {
                if highest.saturating_sub(counter) >= WINDOW || !window.insert(counter) {
                    return Err(OpenError::Replayed);
                }
                *highest = counter.max(*highest);
                let top = *highest;
                window.retain(|c| top - c < WINDOW);
                *newest = sent.max(*newest);
            }
        }
        assert!(self.taken.insert(nonce), "a packet taken twice");
        Ok(())
    }
}

/// This cluster's header (`CLUSTER`), or another's.
fn header(name: &str) -> Header {
    let cluster = crate::hash::fnv1a(name.as_bytes());
    Header { cluster, flags: 0 }
}

/// Fixed key `k`.
fn key(k: usize) -> Key {
    Key::from_bytes(&[k as u8 + 1; 32]).unwrap_or_else(|_| unreachable!())
}

/// The transport a packet is not sealed for.
fn other(transport: Transport) -> Transport {
    TRANSPORTS[1 - transport as usize]
}
