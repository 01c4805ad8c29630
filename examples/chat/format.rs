//! How events, members and counters are written for people to read.

use epidemic::{Event, Member, Node};

/// `name` with control characters escaped, so that it prints on one line.
pub(crate) fn printable(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// An event in words: `bob joined from 127.0.0.1:7947`, `bob failed`, ...
pub(crate) fn describe(event: &Event) -> String {
    match event {
        Event::Join(m) => format!("{} joined from {}", m.name, m.addr),
        Event::Leave(m) => format!("{} left", m.name),
        Event::Fail(m) => format!("{} failed", m.name),
        Event::Suspect(m) => format!("{} is suspected", m.name),
        Event::Update(m) => format!("{} updated (incarnation {})", m.name, m.incarnation),
        Event::Conflict { member, other_addr } => format!(
            "{} is also claimed from {other_addr}; keeping {}",
            member.name, member.addr
        ),
        other => other.to_string(),
    }
}

/// `name  state  incarnation N  addr`, aligned.
pub(crate) fn member_line(member: &Member) -> String {
    format!(
        "{:<12} {:<8} incarnation {:<3} {}",
        printable(member.name()),
        // as_str: MemberState's Display ignores width.
        member.state.as_str(),
        member.incarnation,
        member.addr
    )
}

/// One line of the node's counters.
pub(crate) fn stats_line(node: &Node) -> String {
    let stats = node.stats();
    format!(
        "stats of {}: {} packets in ({} bytes), {} packets out ({} bytes), \
         {} probes ({} indirect), {} suspicions raised, {} refutations, \
         {} sealed in / {} out, {} refused",
        node.name(),
        stats.packets_in,
        stats.bytes_in,
        stats.packets_out,
        stats.bytes_out,
        stats.probes,
        stats.indirect_probes,
        stats.suspicions,
        stats.refutations,
        stats.sealed_in,
        stats.sealed_out,
        stats.dropped_total()
    )
}
