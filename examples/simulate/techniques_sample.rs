//! One sample of the `techniques` table: a fresh cluster sends one message by one
//! technique under one condition; when each node learned it, and what it cost.
//!
//! A sample's seed fixes the cluster, the origin and the crashed nodes, and is the same
//! for every technique, so the techniques are compared on the same draws.

use std::time::Duration;

use epidemic::sim::{Fault, NodeId, Simulation};
use epidemic::{BroadcastMode, Config, StateMode};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::{self, Ctx, Runner, Spread};

/// Feedback's counter: a node stops pushing after this many "already known" replies
/// (THEORY.md §2: Demers' residue for k = 5 is 0.25 %).
pub(crate) const FEEDBACK_K: u32 = 5;
/// The key each anti-entropy sample writes once every node is active.
const MESSAGE_KEY: &str = "message";
/// Membership settles this long before anything is sent (every gossip tick has run).
const WARMUP: Duration = Duration::from_secs(3);
/// Longest wait for a warm-up's state to agree on every node.
const STATE_WARMUP_MAX: Duration = Duration::from_secs(60);
/// State intervals a warm cluster rests before the message: past the 20 rounds for which
/// summaries list a changed owner (`protocol/kv/summary.rs`), so the message meets a
/// cluster at rest, as a configuration update does, not one still telling the warm-up.
const STATE_REST_ROUNDS: u32 = 25;
/// Longest wait for one message.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// How often a sample checks who has the message (and whether broadcasts still move).
const STEP: Duration = Duration::from_millis(20);
/// A broadcast is over once no node has sent a copy or feedback for this long: with
/// nothing in flight, nobody can learn it later.
const QUIET: Duration = Duration::from_secs(1);

/// How a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Technique {
    PointToPoint,
    EagerFlood,
    Gossip1,
    Gossip3,
    Feedback,
    /// The message is one key-value write; anti-entropy in push mode carries it.
    PushAntiEntropy,
    PullAntiEntropy,
    PushPullAntiEntropy,
}

impl Technique {
    /// Every technique, in table order.
    pub(crate) const ALL: [Technique; 8] = [
        Technique::PointToPoint,
        Technique::EagerFlood,
        Technique::Gossip1,
        Technique::Gossip3,
        Technique::Feedback,
        Technique::PushAntiEntropy,
        Technique::PullAntiEntropy,
        Technique::PushPullAntiEntropy,
    ];

    /// Name in the CSV and in summary keys.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Technique::PointToPoint => "p2p",
            Technique::EagerFlood => "eager",
            Technique::Gossip1 => "gossip1",
            Technique::Gossip3 => "gossip3",
            Technique::Feedback => "feedback",
            Technique::PushAntiEntropy => "ae_push",
            Technique::PullAntiEntropy => "ae_pull",
            Technique::PushPullAntiEntropy => "ae_pushpull",
        }
    }

    /// Name in plots.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Technique::PointToPoint => "point-to-point",
            Technique::EagerFlood => "eager flood",
            Technique::Gossip1 => "gossip f=1",
            Technique::Gossip3 => "gossip f=3",
            Technique::Feedback => "feedback f=3 k=5",
            Technique::PushAntiEntropy => "push AE",
            Technique::PullAntiEntropy => "pull AE",
            Technique::PushPullAntiEntropy => "push-pull AE",
        }
    }

    /// The anti-entropy mode, for the techniques that write the message as state.
    pub(crate) fn state_mode(self) -> Option<StateMode> {
        match self {
            Technique::PushAntiEntropy => Some(StateMode::Push),
            Technique::PullAntiEntropy => Some(StateMode::Pull),
            Technique::PushPullAntiEntropy => Some(StateMode::PushPull),
            _ => None,
        }
    }

    /// `Config::lan()` with the technique's broadcast mode; the anti-entropy techniques
    /// reconcile with one peer per gossip interval, so a round costs what a gossip round
    /// with fanout 1 does.
    pub(crate) fn config(self) -> Config {
        let mut config = Config::lan();
        let rumor = |fanout| BroadcastMode::Gossip {
            fanout,
            retransmit_mult: 8,
        };
        match self {
            Technique::PointToPoint => config.broadcast_mode = BroadcastMode::PointToPoint,
            Technique::EagerFlood => config.broadcast_mode = BroadcastMode::EagerFlood,
            Technique::Gossip1 => config.broadcast_mode = rumor(1),
            Technique::Gossip3 => config.broadcast_mode = rumor(3),
            Technique::Feedback => {
                config.broadcast_mode = BroadcastMode::Feedback {
                    fanout: 3,
                    retransmit_mult: 8,
                    known_limit: FEEDBACK_K,
                };
            }
            _ => {}
        }
        if let Some(mode) = self.state_mode() {
            config.state_mode = mode;
            config.state_interval = config.gossip_interval;
            config.state_fanout = 1;
        }
        config
    }
}

/// What the network and the nodes do to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Condition {
    Lossless,
    /// 10 % of datagrams lost (TCP exchanges are reliable).
    Loss10,
    /// 10 % of the nodes crash at the instant the message is sent, before any detection.
    Crash10,
}

impl Condition {
    /// Every condition, in table order.
    pub(crate) const ALL: [Condition; 3] =
        [Condition::Lossless, Condition::Loss10, Condition::Crash10];

    /// Name in the CSV and in summary keys.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Condition::Lossless => "none",
            Condition::Loss10 => "loss10",
            Condition::Crash10 => "crash10",
        }
    }

    fn loss_pct(self) -> f64 {
        if self == Condition::Loss10 { 10.0 } else { 0.0 }
    }

    fn crashes(self, n: usize) -> usize {
        if self == Condition::Crash10 {
            n / 10
        } else {
            0
        }
    }
}

/// One message sent once.
pub(crate) struct Sample {
    pub(crate) spread: Spread,
    /// Messages sent per node up: datagrams carrying the broadcast or its feedback, or
    /// anti-entropy legs (datagrams and TCP frames).
    pub(crate) msgs_per_node: f64,
    /// Bytes of those messages per node up (see `Stats::broadcast_bytes_out` and
    /// `StateTraffic`: message bytes, without packet headers).
    pub(crate) bytes_per_node: f64,
    /// Messages and bytes the origin sent.
    pub(crate) origin_msgs: f64,
    pub(crate) origin_bytes: f64,
    pub(crate) violations: usize,
}

/// The seed of sample `index` of a run seeded `seed` (the same for every technique).
fn sample_seed(seed: u64, index: usize) -> u64 {
    seed.wrapping_mul(1_000).wrapping_add(index as u64)
}

/// Runs sample `index` of `technique` under `condition`.
pub(crate) fn run(
    ctx: &Ctx,
    technique: Technique,
    condition: Condition,
    index: usize,
) -> Result<Sample, String> {
    let n = ctx.nodes;
    let seed = sample_seed(ctx.seed, index);
    let config = technique.config();
    let mut sim = common::build(ctx, n, seed, &config, condition.loss_pct(), false);
    let label = format!("techniques/{}/{}/{index}", technique.key(), condition.key());
    let mut runner = Runner::new(ctx, label);
    runner.run(&mut sim, WARMUP);
    if technique.state_mode().is_some() {
        warm_state(&mut sim, &mut runner, &config, seed)?;
    }

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    let origin = NodeId(order[0]);
    for &victim in &order[1..=condition.crashes(n)] {
        sim.fault(Fault::Crash(NodeId(victim)));
    }
    let cost = |sim: &Simulation, node: usize| -> (u64, u64) {
        if technique.state_mode().is_some() {
            let t = sim.state_traffic(NodeId(node));
            (t.legs(), t.bytes())
        } else {
            let s = sim.stats(NodeId(node));
            (s.broadcast_datagrams_out, s.broadcast_bytes_out)
        }
    };
    let before: Vec<(u64, u64)> = (0..n).map(|i| cost(&sim, i)).collect();
    let payload = format!("message {index} from node {}", origin.0).into_bytes();
    let learned = if technique.state_mode().is_some() {
        spread_as_state(&mut sim, &mut runner, origin, payload)?
    } else {
        spread_as_broadcast(&mut sim, &mut runner, origin, payload)?
    };

    let up = common::up_nodes(&sim);
    let mut learned_ms = vec![0.0];
    learned_ms.extend(up.iter().filter_map(|&i| learned[i]));
    let spread = Spread::new(learned_ms, up.len());
    let (mut msgs, mut bytes) = (0, 0);
    for &i in &up {
        let (m, b) = cost(&sim, i);
        msgs += m - before[i].0;
        bytes += b - before[i].1;
    }
    let (origin_msgs, origin_bytes) = cost(&sim, origin.0);
    Ok(Sample {
        spread,
        msgs_per_node: msgs as f64 / up.len() as f64,
        bytes_per_node: bytes as f64 / up.len() as f64,
        origin_msgs: (origin_msgs - before[origin.0].0) as f64,
        origin_bytes: (origin_bytes - before[origin.0].1) as f64,
        violations: runner.violations.len(),
    })
}

/// Every node writes one key at a seeded moment within one state interval, so rounds run
/// at spread phases as in a cluster whose nodes started at different times; then the
/// cluster runs until every replica agrees, and rests [`STATE_REST_ROUNDS`]. Afterwards
/// every node is active: a later write spreads at the mode's own speed, not at the speed
/// of waking idle nodes.
fn warm_state(
    sim: &mut Simulation,
    runner: &mut Runner<'_>,
    config: &Config,
    seed: u64,
) -> Result<(), String> {
    let n = sim.node_count();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5741_524d);
    // Whole microseconds: the simulator's clock has no finer tick.
    let interval_us = config.state_interval.as_micros() as u64;
    let mut writes: Vec<(Duration, usize)> = (0..n)
        .map(|i| (Duration::from_micros(rng.random_range(0..interval_us)), i))
        .collect();
    writes.sort();
    let start = sim.now();
    for (offset, node) in writes {
        if start + offset > sim.now() {
            runner.run(sim, start + offset - sim.now());
        }
        sim.set(NodeId(node), "warm", b"1".to_vec())
            .map_err(|e| format!("warm-up write on node {node}: {e}"))?;
    }
    sim.run_until_state_converged(STATE_WARMUP_MAX)
        .map_err(|e| format!("warm-up state did not converge: {e}"))?;
    runner.run(sim, config.state_interval * STATE_REST_ROUNDS);
    match (0..n).find(|&i| !sim.state_active(NodeId(i))) {
        Some(idle) => Err(format!("node {idle} is still idle after the warm-up")),
        None => Ok(()),
    }
}

/// Broadcasts `payload` from `origin` and runs until no copy has moved for [`QUIET`];
/// returns when each node delivered it (ms after the send).
fn spread_as_broadcast(
    sim: &mut Simulation,
    runner: &mut Runner<'_>,
    origin: NodeId,
    payload: Vec<u8>,
) -> Result<Vec<Option<f64>>, String> {
    let sent_at = sim.now();
    sim.broadcast(origin, payload.clone())
        .map_err(|e| format!("broadcast from node {}: {e}", origin.0))?;
    let copies = |sim: &Simulation| -> u64 {
        (0..sim.node_count())
            .map(|i| sim.stats(NodeId(i)).broadcast_datagrams_out)
            .sum()
    };
    let (mut last, mut moved_at) = (copies(sim), sim.now());
    while sim.now() - moved_at < QUIET && sim.now() - sent_at < MAX_WAIT {
        runner.run(sim, STEP);
        let now_copies = copies(sim);
        if now_copies != last {
            (last, moved_at) = (now_copies, sim.now());
        }
    }
    Ok(delivered_at(sim, &payload, sent_at))
}

/// When each node delivered the broadcast `payload` sent at `sent_at` (ms after it).
pub(crate) fn delivered_at(
    sim: &Simulation,
    payload: &[u8],
    sent_at: Duration,
) -> Vec<Option<f64>> {
    let mut learned = vec![None; sim.node_count()];
    for d in sim.deliveries() {
        if d.payload[..] == *payload && learned[d.node.0].is_none() {
            learned[d.node.0] = Some(ms(d.at - sent_at));
        }
    }
    learned
}

/// Writes `payload` under [`MESSAGE_KEY`] on `origin` and runs until every node up holds
/// it (at most [`MAX_WAIT`]); returns when each node learned it (ms after the write). The
/// cost is counted up to that moment: anti-entropy never goes quiet.
fn spread_as_state(
    sim: &mut Simulation,
    runner: &mut Runner<'_>,
    origin: NodeId,
    payload: Vec<u8>,
) -> Result<Vec<Option<f64>>, String> {
    let n = sim.node_count();
    let owner = sim.name(origin).clone();
    let written_at = sim.now();
    let mut scanned = sim.state_changes().len();
    sim.set(origin, MESSAGE_KEY, payload)
        .map_err(|e| format!("write on node {}: {e}", origin.0))?;
    let missing_at_start = (0..n)
        .filter(|&i| i != origin.0 && sim.is_up(NodeId(i)))
        .count();
    let mut learned = vec![None; n];
    let mut informed = 0;
    while informed < missing_at_start && sim.now() - written_at < MAX_WAIT {
        runner.run(sim, STEP);
        let changes = sim.state_changes();
        for c in &changes[scanned..] {
            let ours = c.owner == owner && c.key == MESSAGE_KEY && c.value.is_some();
            if ours && learned[c.node.0].is_none() {
                learned[c.node.0] = Some(ms(c.at - written_at));
                informed += 1;
            }
        }
        scanned = changes.len();
    }
    Ok(learned)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
