//! `load`: steady-state traffic per node, against THEORY.md §6's floor. SWIM's promise is
//! that datagrams per node per second stay flat as N grows.
//!
//! Methodology: bootstrap N, run 10 s, then 60 s in 1 s steps, reading
//! `Simulation::network_totals()` after each. Rates are the 60 s deltas / N / 60 s.
//! Datagram bytes are UDP payloads; "with headers" adds 28 B IP+UDP per datagram, which is
//! what the floor counts. Push-pull frame bytes (TCP, both directions) are reported apart.

use std::time::Duration;

use epidemic::sim::NetworkTotals;

use crate::common::{self, Ctx, Runner, Summary, fmt};
use crate::plot::{self, Chart, Series};
use crate::theory::{self, UDP_IP_HEADER};

const WARM_UP: Duration = Duration::from_secs(10);
const WINDOW_S: u64 = 60;

fn delta(a: NetworkTotals, b: NetworkTotals) -> NetworkTotals {
    NetworkTotals {
        datagrams: b.datagrams - a.datagrams,
        bytes: b.bytes - a.bytes,
        lost: b.lost - a.lost,
        exchanges: b.exchanges - a.exchanges,
        frame_bytes: b.frame_bytes - a.frame_bytes,
        largest_datagram: b.largest_datagram,
    }
}

pub(crate) fn run(ctx: &Ctx) -> Result<Summary, String> {
    let n = ctx.nodes;
    let lifeguard = ctx.lifeguard.unwrap_or(true);
    let config = common::config(lifeguard);
    let loss = ctx.loss_pct.unwrap_or(0.0);
    let mut sim = common::build(ctx, n, ctx.seed, &config, loss, false);
    let mut runner = Runner::new(ctx, "load");
    runner.run(&mut sim, WARM_UP);
    let start = sim.network_totals();
    let per_node = |x: u64, secs: f64| x as f64 / n as f64 / secs;
    let (mut rows, mut dgram_pts, mut byte_pts) = (Vec::new(), Vec::new(), Vec::new());
    let mut prev = start;
    for second in 1..=WINDOW_S {
        runner.run(&mut sim, Duration::from_secs(1));
        let now = sim.network_totals();
        let d = delta(prev, now);
        prev = now;
        let dg = per_node(d.datagrams, 1.0);
        let by = per_node(d.bytes, 1.0);
        rows.push(format!(
            "{second},{},{},{},{},{}",
            fmt(dg, 3),
            fmt(by, 1),
            fmt(by + dg * UDP_IP_HEADER, 1),
            fmt(per_node(d.frame_bytes, 1.0), 1),
            d.exchanges
        ));
        dgram_pts.push((second as f64, dg));
        byte_pts.push((second as f64, by + dg * UDP_IP_HEADER));
    }
    common::write_csv(
        &ctx.path("load_per_second.csv"),
        "second,datagrams_per_node,payload_bytes_per_node,bytes_with_headers_per_node,\
         pushpull_frame_bytes_per_node,pushpull_exchanges",
        &rows,
    )?;
    let total = delta(start, sim.network_totals());
    let secs = WINDOW_S as f64;
    let dg = per_node(total.datagrams, secs);
    let payload = per_node(total.bytes, secs);
    let with_headers = payload + dg * UDP_IP_HEADER;
    let frames = per_node(total.frame_bytes, secs);
    let (floor_dg, floor_bytes) = theory::traffic_floor(&config);
    common::write_csv(
        &ctx.path("load.csv"),
        "nodes,datagrams_per_node_s,payload_bytes_per_node_s,bytes_with_headers_per_node_s,\
         pushpull_frame_bytes_per_node_s,pushpull_exchanges_per_node_s,lost_per_node_s,\
         floor_datagrams_per_node_s,floor_bytes_per_node_s",
        &[format!(
            "{n},{},{},{},{},{},{},{},{}",
            fmt(dg, 3),
            fmt(payload, 1),
            fmt(with_headers, 1),
            fmt(frames, 1),
            fmt(per_node(total.exchanges, secs), 4),
            fmt(per_node(total.lost, secs), 3),
            fmt(floor_dg, 1),
            fmt(floor_bytes, 1)
        )],
    )?;
    let title = format!(
        "Datagrams sent per node per second, N = {n}, seed {}",
        ctx.seed
    );
    plot::line_chart(
        &ctx.path("load_datagrams.svg"),
        &Chart {
            title: &title,
            x_label: "second of the measurement window",
            y_label: "datagrams / node / s",
            legend_top: false,
        },
        &[
            Series::new("measured", dgram_pts),
            Series::new("floor: ping + ack", vec![(1.0, floor_dg), (secs, floor_dg)]),
        ],
    )?;
    let title = format!("Bytes sent per node per second (with IP+UDP headers), N = {n}");
    plot::line_chart(
        &ctx.path("load_bytes.svg"),
        &Chart {
            title: &title,
            x_label: "second of the measurement window",
            y_label: "bytes / node / s",
            legend_top: false,
        },
        &[
            Series::new("measured", byte_pts),
            Series::new(
                "floor: 2 x 48 B",
                vec![(1.0, floor_bytes), (secs, floor_bytes)],
            ),
        ],
    )?;
    let mut s = Summary::new();
    s.kv("lifeguard", if lifeguard { "on" } else { "off" })
        .kv("loss_pct", fmt(loss, 1))
        .kv("datagrams_per_node_s", fmt(dg, 3))
        .kv("payload_bytes_per_node_s", fmt(payload, 1))
        .kv("bytes_with_headers_per_node_s", fmt(with_headers, 1))
        .kv("pushpull_bytes_per_node_s", fmt(frames, 1))
        .kv("floor_datagrams", fmt(floor_dg, 1))
        .kv("floor_bytes", fmt(floor_bytes, 1))
        .kv("ratio_datagrams_to_floor", fmt(dg / floor_dg, 3))
        .kv("ratio_bytes_to_floor", fmt(with_headers / floor_bytes, 3))
        .kv("violations", runner.violations.len())
        .kv("wall_s", fmt(ctx.wall_s(), 2))
        .kv("wall_rss_mib", fmt(common::peak_rss_mib(), 0));
    Ok(s)
}
