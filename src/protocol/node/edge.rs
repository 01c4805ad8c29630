//! The node's edge to the wire: every datagram and frame is opened here before it is
//! decoded, and sealed here after it is encoded, as the [`EncryptionMode`] says. One
//! instance per node, on the thread that owns the sockets (the reactor; in the simulator,
//! the node core), so the nonce sequence and the replay guard need no lock.
//!
//! ```text
//! in:  bytes --open (Off: plaintext only; Opening/Sealing: both; Required: sealed only)--> plain --> Inbound
//! out: NetOutput (plain) --seal (Sealing/Required)--> NetOutput (sealed) --> socket
//! ```
//!
//! Components pack datagrams to `Config::datagram_budget()`, the MTU less the sealing
//! overhead, whatever the mode, so switching modes at run time never makes a datagram too
//! large for the MTU.

use std::borrow::Cow;
use std::sync::Arc;

use crate::codec::{MAGIC, PROTOCOL_VERSION};
use crate::config::Config;
use crate::error::ExchangeError;
use crate::protocol::{ExchangeId, NetOutput};
use crate::seal::{
    EncryptionMode, Envelope, OpenError, PrefixSource, SealControl, SealError, Transport,
};
use crate::stats::{Counters, DropReason};

/// Refusals that point at a misconfiguration (keys, mode, cluster, clocks) are logged at
/// `warn`, at most once per this many ms; every refusal is logged at `debug`.
const WARN_EVERY_MS: u64 = 10_000;

/// A network output that could not be sealed, so it is not sent. An exchange it opened
/// is owed its one answer.
#[derive(Debug)]
pub(crate) struct Unsealed {
    /// The exchange to answer with [`ExchangeError::Seal`], if the output opened one.
    pub(crate) exchange: Option<ExchangeId>,
}

impl Unsealed {
    /// The answer the exchange is owed, if any.
    pub(crate) fn answer(&self) -> Option<(ExchangeId, ExchangeError)> {
        self.exchange.map(|e| (e, ExchangeError::Seal))
    }
}

/// One node's sealing edge (see the module docs).
#[derive(Debug)]
pub(crate) struct Edge {
    control: Arc<SealControl>,
    envelope: Envelope,
    counters: Arc<Counters>,
    /// When the last refusal was logged at `warn`, and how many were refused since.
    warned_at_ms: Option<u64>,
    unwarned: u64,
}

impl Edge {
    /// The edge of a node running `config`, its keys and mode in `control`, drawing nonce
    /// prefixes from `source` (the operating system, but in the simulator).
    pub(crate) fn new(
        config: &Config,
        control: Arc<SealControl>,
        source: PrefixSource,
        counters: Arc<Counters>,
    ) -> Edge {
        // Every sender prefix active within the skew: a member or two (a restart) each.
        let max_senders = config.max_members.saturating_mul(2);
        let skew_ms = u64::try_from(config.max_clock_skew.as_millis()).unwrap_or(u64::MAX);
        Edge {
            envelope: Envelope::new(&config.cluster, skew_ms, max_senders, source, false),
            control,
            counters,
            warned_at_ms: None,
            unwarned: 0,
        }
    }

    /// The bytes that arrived on `transport`, opened if sealed, at `wall_ms` (ms since
    /// the Unix epoch on this node's clock); or why they are dropped (counted).
    pub(crate) fn open<'a>(
        &mut self,
        transport: Transport,
        bytes: &'a [u8],
        wall_ms: u64,
    ) -> Result<Cow<'a, [u8]>, DropReason> {
        let mode = self.control.mode();
        self.envelope.set_require_sealed(mode.requires_sealed());
        let keyring = self.control.keyring();
        let keys = keyring.as_ref().filter(|_| mode != EncryptionMode::Off);
        let opened = self.envelope.open(keys, transport, bytes, wall_ms);
        drop(keyring);
        match opened {
            Ok(plain) => {
                if let Cow::Owned(_) = plain {
                    Counters::bump(&self.counters.sealed_in);
                }
                Ok(plain)
            }
            Err(e) => {
                log::debug!("refused a {transport:?} of {} bytes: {e:?}", bytes.len());
                self.warn(&e, wall_ms);
                let reason = drop_reason(e);
                self.counters.dropped(reason);
                Err(reason)
            }
        }
    }

    /// Logs a refusal that suggests a misconfigured peer at `warn`, throttled.
    fn warn(&mut self, e: &OpenError, wall_ms: u64) {
        let hint = match e {
            OpenError::Plaintext => "plaintext, and this node requires sealed input",
            OpenError::UnknownKey => "sealed under a key this node does not hold",
            OpenError::WrongCluster => "sealed by a node of another cluster",
            OpenError::Forged => "failed authentication (tampered, or another cluster's name)",
            OpenError::Stale => "sealed further from this node's clock than max_clock_skew",
            _ => return,
        };
        self.unwarned += 1;
        let due = self
            .warned_at_ms
            .is_none_or(|at| wall_ms.saturating_sub(at) >= WARN_EVERY_MS);
        if due {
            log::warn!(
                "refused input: {hint} ({} such refusals since the last warning); check \
                 the peers' keys, encryption mode, cluster name and clock",
                self.unwarned
            );
            self.warned_at_ms = Some(wall_ms);
            self.unwarned = 0;
        }
    }

    /// `net`, sealed if the mode seals, at `wall_ms`.
    pub(crate) fn seal(&mut self, net: NetOutput, wall_ms: u64) -> Result<NetOutput, Unsealed> {
        if !self.control.mode().seals() {
            return Ok(net);
        }
        let keyring = self.control.keyring();
        let Some(keys) = keyring.as_ref() else {
            // A mode that seals is only set with a keyring, and keyrings are never removed.
            return Ok(net);
        };
        let (envelope, counters) = (&mut self.envelope, &self.counters);
        let mut seal = |transport, plain: &[u8]| {
            envelope
                .seal(keys, transport, plain, wall_ms)
                .inspect(|_| Counters::bump(&counters.sealed_out))
                .inspect_err(|e| log::warn!("could not seal a {transport:?}: {e:?}; not sent"))
        };
        let sealed = match net {
            NetOutput::SendTo { to, bytes, urgent } => seal(Transport::Datagram, &bytes)
                .map(|bytes| NetOutput::SendTo { to, bytes, urgent })
                .map_err(|_| None),
            NetOutput::Exchange {
                exchange,
                to,
                frame,
                timeout,
            } => seal(Transport::Frame, &frame)
                .map(|frame| NetOutput::Exchange {
                    exchange,
                    to,
                    frame,
                    timeout,
                })
                .map_err(|_| Some(exchange)),
            NetOutput::Reply { conn, frame } => seal(Transport::Frame, &frame)
                .map(|frame| NetOutput::Reply { conn, frame })
                .map_err(|_: SealError| None),
            close @ NetOutput::Close { .. } => Ok(close),
        };
        sealed.map_err(|exchange| {
            self.counters.dropped(DropReason::SendFailed);
            Unsealed { exchange }
        })
    }

    /// Whether a frame whose head (first bytes) is `head` is sealed: its clear header is
    /// all that can be checked before its body.
    pub(crate) fn is_sealed(head: &[u8]) -> bool {
        let ours = head.get(..3) == Some(&[MAGIC[0], MAGIC[1], PROTOCOL_VERSION][..]);
        ours && head
            .get(3)
            .is_some_and(|flags| flags & crate::seal::SEALED != 0)
    }
}

/// The counter an open refusal goes to.
fn drop_reason(e: OpenError) -> DropReason {
    match e {
        OpenError::Plaintext => DropReason::Plaintext,
        OpenError::Header(e) => e.reason(),
        OpenError::WrongCluster => DropReason::WrongCluster,
        OpenError::Truncated => DropReason::Malformed,
        OpenError::UnknownKey => DropReason::UnknownKey,
        OpenError::Forged => DropReason::Forged,
        OpenError::Stale => DropReason::Stale,
        OpenError::Replayed => DropReason::Replayed,
        OpenError::TooManySenders => DropReason::TooManySenders,
    }
}
