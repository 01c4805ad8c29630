//! A member's life: joining through seeds, a dead member coming back or being reaped,
//! leaving.

use super::*;

#[test]
fn join_answers_at_first_seed_and_lists_every_failure() {
    let mut m = node();
    m.handle(
        at(0),
        MembershipInput::Join {
            request: RequestId(1),
            seeds: vec![addr(2), addr(3)],
        },
    );
    let requests: Vec<u64> = drain(&mut m)
        .into_iter()
        .filter_map(|o| match o {
            Output::Out(Egress::Net(NetOutput::Exchange {
                exchange: ExchangeId::Membership(n),
                ..
            })) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 2);
    m.handle(
        at(5),
        MembershipInput::SyncResponse {
            exchange: requests[0],
            result: Err(ExchangeError::Connect(
                std::io::ErrorKind::ConnectionRefused,
            )),
        },
    );
    assert!(drain(&mut m).is_empty());
    let state = PushPull {
        join: false,
        members: vec![MemberRecord {
            name: name("seed"),
            addr: addr(3),
            incarnation: 0,
            state: MemberState::Alive,
            metadata: Arc::from(&[][..]),
        }],
    };
    m.handle(
        at(6),
        MembershipInput::SyncResponse {
            exchange: requests[1],
            result: Ok(state),
        },
    );
    let out = drain(&mut m);
    assert_eq!(events(&out), ["join seed"]);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Out(Egress::Reply(RequestId(1), Reply::Joined(Ok(1))))
    )));

    m.handle(
        at(10),
        MembershipInput::Join {
            request: RequestId(2),
            seeds: vec![addr(8)],
        },
    );
    let exchange = drain(&mut m)
        .into_iter()
        .find_map(|o| match o {
            Output::Out(Egress::Net(NetOutput::Exchange {
                exchange: ExchangeId::Membership(n),
                ..
            })) => Some(n),
            _ => None,
        })
        .unwrap();
    m.handle(
        at(11),
        MembershipInput::SyncResponse {
            exchange,
            result: Err(ExchangeError::Timeout),
        },
    );
    let out = drain(&mut m);
    assert!(out.iter().any(|o| matches!(o, Output::Out(Egress::Reply(RequestId(2), Reply::Joined(Err(JoinError::AllFailed(f))))) if f.len() == 1)));
}

#[test]
fn dead_member_rejoins_with_higher_incarnation_and_is_reaped_otherwise() {
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("b", 2, 0)]);
    packet(&mut m, at(0), 3, vec![alive("c", 3, 0)]);
    let dead = |n: &str| {
        Message::Dead(crate::codec::Dead {
            name: name(n),
            incarnation: 0,
            from: name("x"),
        })
    };
    let out = packet(&mut m, at(1), 2, vec![dead("b"), dead("c")]);
    assert_eq!(events(&out), ["fail b", "fail c"]);
    assert!(events(&packet(&mut m, at(2), 2, vec![alive("b", 2, 0)])).is_empty());
    assert_eq!(
        events(&packet(&mut m, at(3), 2, vec![alive("b", 2, 1)])),
        ["join b"]
    );
    // c stays dead and is forgotten after reap_after, at the next probe period; the
    // unanswered probes of b stretch periods up to (awareness_max + 1) × probe_interval.
    let config = Config::lan();
    let longest_period = config.probe_interval * (config.awareness_max + 1);
    run_until(&mut m, at(1) + config.reap_after + longest_period);
    assert!(m.table.get(&name("c")).is_none());
    assert!(m.table.get(&name("b")).is_some());
}

#[test]
fn leave_gossips_left_at_a_higher_incarnation_and_stops_probing() {
    let mut m = node();
    packet(&mut m, at(0), 2, vec![alive("b", 2, 0)]);
    m.handle(
        at(1),
        MembershipInput::Leave {
            request: RequestId(9),
        },
    );
    let out = drain(&mut m);
    assert!(out.iter().any(|o| matches!(o,
        Output::To(ComponentInput::Dissemination(DisseminationInput::Leave { request: RequestId(9), update: Message::Left(l) }))
            if l.incarnation == 1)));
    assert_eq!(m.poll_timeout(), None);
    // Others gossiping our suspicion while we leave are not refuted.
    let suspect = Message::Suspect(Suspect {
        name: name("me"),
        incarnation: 1,
        from: name("b"),
    });
    assert!(gossiped(&packet(&mut m, at(2), 2, vec![suspect])).is_empty());
    let _ = Event::Join;
}
