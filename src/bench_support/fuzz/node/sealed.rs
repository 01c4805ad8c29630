//! The `node` target's encrypted variant (see the parent module's docs): the node's keys
//! and mode, how the harness seals, spoils or replays what it feeds the node, and the
//! checks on what the edge made of it and on what the node sends.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{FuzzNode, Input};
use crate::codec::{Header, MAX_FRAME_LEN};
use crate::config::Config;
use crate::seal::{EncryptionMode, Envelope, Key, Keyring, PrefixSource, SealControl};
use crate::seal::{SEALED, SEALED_OVERHEAD, Transport};
use crate::time::Instant;

/// The encrypted variant's key, and its node's wall clock at protocol time zero.
const KEY: [u8; 32] = [0x5e; 32];
pub(super) const WALL_ORIGIN_MS: u64 = 1_767_225_600_000;
/// The modes the encrypted variant steps through, from the first.
pub(super) const MODES: [EncryptionMode; 4] = [
    EncryptionMode::Required,
    EncryptionMode::Sealing,
    EncryptionMode::Opening,
    EncryptionMode::Off,
];

/// How the encrypted variant feeds what it built (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Wrap {
    Sealed,
    Plain,
    Tampered,
    Stale,
    Replayed,
}

/// An input the encrypted variant fed, and what the edge must make of it.
#[derive(Debug)]
pub(super) struct Fed {
    wrap: Wrap,
    transport: Transport,
    pub(super) bytes: Vec<u8>,
    /// This cluster's, within the MTU: a sealed one reaches the keys.
    reaches: bool,
    /// The node's `sealed_in` and `dropped_stale` before.
    before: (u64, u64),
}

/// The encrypted variant: the node's keys and mode, and the harness's own.
#[derive(Debug)]
pub(super) struct Sealing {
    pub(super) control: Arc<SealControl>,
    keyring: Keyring,
    /// Seals what the harness feeds the node.
    out: Envelope,
    /// Opens what the node sends.
    back: Envelope,
    /// Index of the mode in [`MODES`].
    pub(super) mode: usize,
    /// The last sealed datagram and frame the node opened, to replay.
    last: [Option<Vec<u8>>; 2],
    /// Inputs flipped or sealed stale so far (which byte, which side of the skew).
    spoiled: usize,
    skew_ms: u64,
}

impl Sealing {
    /// The keys and envelopes of a node running `config`.
    pub(super) fn new(config: &Config) -> Sealing {
        let skew_ms = config.max_clock_skew.as_millis() as u64;
        let key = || Key::from_bytes(&KEY).unwrap_or_else(|_| unreachable!());
        let keyring = Some(Keyring::new(key()));
        let seeded = |seed| PrefixSource::Seeded(Box::new(ChaCha8Rng::seed_from_u64(seed)));
        Sealing {
            control: Arc::new(SealControl::new(keyring, MODES[0])),
            keyring: Keyring::new(key()),
            out: Envelope::new(&config.cluster, skew_ms, 1, seeded(1), false),
            back: Envelope::new(&config.cluster, skew_ms, 2, seeded(2), true),
            mode: 0,
            last: [None, None],
            spoiled: 0,
            skew_ms,
        }
    }
}

impl FuzzNode {
    /// The cluster's header, or (rarely) another cluster's or the sealed flag; and in the
    /// encrypted variant how it goes in (see the module docs).
    pub(super) fn header(&mut self, input: &mut Input<'_>) -> (Header, Wrap) {
        let cluster = self.config.cluster_id();
        let choice = input.u8() % 32;
        let header = match choice {
            0 => Header {
                cluster: input.u64(),
                flags: 0,
            },
            1 => Header { cluster, flags: 1 },
            _ => Header { cluster, flags: 0 },
        };
        let wrap = match choice {
            1 | 2 => Wrap::Plain,
            3 => Wrap::Tampered,
            4 => Wrap::Stale,
            5 => Wrap::Replayed,
            _ => Wrap::Sealed,
        };
        if let Some(s) = self.sealing.as_mut().filter(|_| choice == 6) {
            s.mode = (s.mode + 1) % MODES.len();
            let set = s.control.set_mode(MODES[s.mode]);
            assert_eq!(set, Ok(()), "a node with a keyring refused a mode");
        }
        (header, wrap)
    }

    /// This node's wall clock now, as the core computes it.
    pub(super) fn wall_ms(&self) -> u64 {
        WALL_ORIGIN_MS + self.now.saturating_since(Instant::ZERO).as_millis() as u64
    }

    /// `plain` as the encrypted variant feeds it (`wrap`), or as it is.
    pub(super) fn wrap(
        &mut self,
        transport: Transport,
        plain: Vec<u8>,
        header: &Header,
        wrap: Wrap,
    ) -> Fed {
        let (wall, mtu) = (self.wall_ms(), self.config.mtu);
        let c = self.core.counters();
        let before = (c.sealed_in.load(Relaxed), c.dropped_stale.load(Relaxed));
        let ours = header.cluster == self.config.cluster_id();
        let Some(s) = self.sealing.as_mut() else {
            let (wrap, reaches) = (Wrap::Plain, false);
            return Fed {
                wrap,
                transport,
                bytes: plain,
                reaches,
                before,
            };
        };
        let replay = s.last[transport as usize]
            .clone()
            .filter(|_| wrap == Wrap::Replayed);
        let wrap = match (wrap, &replay) {
            (Wrap::Replayed, None) => Wrap::Sealed,
            _ => wrap,
        };
        let sent = match wrap {
            Wrap::Stale if s.spoiled % 2 == 0 => wall.saturating_sub(s.skew_ms + 1),
            Wrap::Stale => wall + s.skew_ms + 1,
            _ => wall,
        };
        let mut bytes = match (wrap, replay) {
            (Wrap::Plain, _) => plain,
            (_, Some(again)) => again,
            _ => s
                .out
                .seal(&s.keyring, transport, &plain, sent)
                .unwrap_or_else(|e| panic!("{e:?}")),
        };
        if matches!(wrap, Wrap::Tampered | Wrap::Stale) {
            s.spoiled += 1;
        }
        if wrap == Wrap::Tampered {
            let at = (s.spoiled * 37 + 3) % bytes.len();
            bytes[at] ^= 1 << (s.spoiled % 8);
        }
        let fits = transport == Transport::Frame || bytes.len() <= mtu;
        let reaches = ours && fits;
        Fed {
            wrap,
            transport,
            bytes,
            reaches,
            before,
        }
    }

    /// What the edge made of `fed`: a sealed input that reaches the keys is opened unless
    /// the mode is `Off`; a flipped, stale or replayed one never is.
    pub(super) fn fed(&mut self, fed: Fed) {
        let Some(s) = self.sealing.as_mut() else {
            return;
        };
        let c = self.core.counters();
        let opened = c.sealed_in.load(Relaxed) - fed.before.0;
        let stale = c.dropped_stale.load(Relaxed) - fed.before.1;
        let reaches = fed.reaches && MODES[s.mode] != EncryptionMode::Off;
        match fed.wrap {
            Wrap::Sealed => {
                assert_eq!(opened, u64::from(reaches), "a sealed input opened or not");
                if reaches {
                    s.last[fed.transport as usize] = Some(fed.bytes);
                }
            }
            Wrap::Stale => {
                assert_eq!(opened, 0, "a stale input opened");
                assert_eq!(
                    stale,
                    u64::from(reaches),
                    "a stale input not refused as such"
                );
            }
            wrap => assert_eq!(opened, 0, "a {wrap:?} input opened"),
        }
    }

    /// What the node sent on `transport`: while its mode seals, sealed and opened with the
    /// key (a nonce used twice would be refused as a replay); plaintext otherwise.
    pub(super) fn unseal(&mut self, transport: Transport, bytes: Vec<u8>) -> Vec<u8> {
        let wall = self.wall_ms();
        let Some(s) = self.sealing.as_mut().filter(|s| MODES[s.mode].seals()) else {
            let plain = bytes.get(3).is_some_and(|flags| flags & SEALED == 0);
            assert!(plain, "sent sealed while not sealing");
            return bytes;
        };
        let limit = match transport {
            Transport::Datagram => self.config.mtu,
            Transport::Frame => MAX_FRAME_LEN + SEALED_OVERHEAD,
        };
        assert!(bytes.len() <= limit, "sealed over the limit");
        match s.back.open(Some(&s.keyring), transport, &bytes, wall) {
            Ok(plain) => plain.into_owned(),
            Err(e) => panic!("sent what does not open with the key: {e:?}"),
        }
    }
}
