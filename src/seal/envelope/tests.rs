//! Sealing and opening: round trips, and every way a packet can be wrong refused with
//! its reason and nothing remembered.

#![allow(clippy::unwrap_used)]
use proptest::prelude::*;
use rand::SeedableRng;

use super::*;
use crate::seal::{Cipher, Key};

const NOW: u64 = 1_800_000_000_000;
const SKEW: u64 = 30_000;

fn key(n: u8) -> Key {
    Key::from_bytes(&[n; 32]).unwrap()
}

fn envelope(cluster: &str, seed: u64) -> Envelope {
    let source = PrefixSource::Seeded(Box::new(ChaCha8Rng::seed_from_u64(seed)));
    Envelope::new(cluster, SKEW, 64, source, true)
}

/// A plain packet of `cluster` with `body`.
fn plain(cluster: &str, body: &[u8]) -> Vec<u8> {
    let mut p = b"EP\x01\x00".to_vec();
    p.extend_from_slice(&crate::hash::fnv1a(cluster.as_bytes()).to_be_bytes());
    p.extend_from_slice(body);
    p
}

#[test]
fn a_sealed_packet_opens_to_what_was_sealed_under_either_cipher_and_transport() {
    for cipher in [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305] {
        let ring = Keyring::with_cipher(cipher, key(1));
        let (mut a, mut b) = (envelope("c", 1), envelope("c", 2));
        for transport in [Transport::Datagram, Transport::Frame] {
            let packet = plain("c", b"hello, cluster");
            let sealed = a.seal(&ring, transport, &packet, NOW).unwrap();
            assert_eq!(sealed.len(), packet.len() + SEALED_OVERHEAD);
            assert_eq!(
                &sealed[4..12],
                &packet[4..12],
                "the cluster id is in the clear"
            );
            assert_eq!(sealed[3], SEALED);
            assert!(!sealed.windows(5).any(|w| w == b"hello"), "the body is not");
            let opened = b.open(Some(&ring), transport, &sealed, NOW + 5).unwrap();
            assert_eq!(&opened[..], &packet[..]);
        }
    }
}

#[test]
fn every_flipped_bit_and_every_truncation_is_refused_and_leaves_nothing() {
    let ring = Keyring::new(key(1));
    let mut a = envelope("c", 1);
    let sealed = a
        .seal(&ring, Transport::Datagram, &plain("c", &[7; 40]), NOW)
        .unwrap();
    let mut b = envelope("c", 2);
    for at in 0..sealed.len() {
        for bit in 0..8 {
            let mut bad = sealed.clone();
            bad[at] ^= 1 << bit;
            let opened = b.open(Some(&ring), Transport::Datagram, &bad, NOW);
            assert!(opened.is_err(), "byte {at} bit {bit}: {opened:?}");
        }
    }
    for len in 0..sealed.len() {
        let opened = b.open(Some(&ring), Transport::Datagram, &sealed[..len], NOW);
        assert!(opened.is_err(), "truncated to {len}");
    }
    assert_eq!(b.senders(), 0, "nothing refused is remembered");
    // The genuine packet still opens: the refusals did not burn its counter.
    assert!(
        b.open(Some(&ring), Transport::Datagram, &sealed, NOW)
            .is_ok()
    );
}

#[test]
fn refusals_name_their_reason() {
    let ring = Keyring::new(key(1));
    let mut a = envelope("c", 1);
    let packet = plain("c", b"x");
    let sealed = a.seal(&ring, Transport::Datagram, &packet, NOW).unwrap();
    let mut b = envelope("c", 2);
    let open = |b: &mut Envelope, ring: Option<&Keyring>, t, bytes: &[u8], now| {
        b.open(ring, t, bytes, now).map(|p| p.into_owned())
    };
    let other = Keyring::new(key(2));
    assert_eq!(
        open(&mut b, Some(&other), Transport::Datagram, &sealed, NOW),
        Err(OpenError::UnknownKey)
    );
    assert_eq!(
        open(&mut b, None, Transport::Datagram, &sealed, NOW),
        Err(OpenError::UnknownKey)
    );
    assert_eq!(
        open(&mut b, Some(&ring), Transport::Frame, &sealed, NOW),
        Err(OpenError::Forged),
        "a datagram is not a frame"
    );
    assert_eq!(
        open(&mut b, Some(&ring), Transport::Datagram, &packet, NOW),
        Err(OpenError::Plaintext)
    );
    assert_eq!(
        open(
            &mut envelope("d", 3),
            Some(&ring),
            Transport::Datagram,
            &sealed,
            NOW
        ),
        Err(OpenError::WrongCluster)
    );
    assert_eq!(
        open(
            &mut b,
            Some(&ring),
            Transport::Datagram,
            &sealed,
            NOW + SKEW + 1
        ),
        Err(OpenError::Stale)
    );
    assert_eq!(
        open(&mut b, Some(&ring), Transport::Datagram, &sealed, NOW),
        Ok(packet)
    );
    assert_eq!(
        open(&mut b, Some(&ring), Transport::Datagram, &sealed, NOW + 1),
        Err(OpenError::Replayed)
    );
    let mut lax = envelope("c", 4);
    lax.set_require_sealed(false);
    let raw = b"not even a packet";
    assert_eq!(
        lax.open(Some(&ring), Transport::Datagram, raw, NOW),
        Ok(Cow::Borrowed(&raw[..]))
    );
}

#[test]
fn the_cluster_name_is_the_label_even_under_one_key_and_a_forged_id() {
    // Sealed for "a", relabelled in the clear with "b"'s id: "b" cannot open it.
    let ring = Keyring::new(key(1));
    let mut sealed = envelope("a", 1)
        .seal(&ring, Transport::Datagram, &plain("a", b"x"), NOW)
        .unwrap();
    sealed[4..12].copy_from_slice(&crate::hash::fnv1a(b"b").to_be_bytes());
    let opened = envelope("b", 2).open(Some(&ring), Transport::Datagram, &sealed, NOW);
    assert_eq!(opened, Err(OpenError::Forged));
}

#[test]
fn a_rotation_never_leaves_a_packet_unopenable() {
    // Two nodes, each step applied to `a` first: whatever either seals, the other opens.
    let (mut ring_a, mut ring_b) = (Keyring::new(key(1)), Keyring::new(key(1)));
    let (mut a, mut b) = (envelope("c", 1), envelope("c", 2));
    let steps: [&dyn Fn(&mut Keyring); 3] = [
        &|r| r.install(key(2)).unwrap(),
        &|r| r.use_key(key(2).id()).unwrap(),
        &|r| r.remove(key(1).id()).unwrap(),
    ];
    let mut t = NOW;
    let mut exchange = |ra: &Keyring, rb: &Keyring| {
        t += 1;
        let p = plain("c", b"rotating");
        let s = a.seal(ra, Transport::Datagram, &p, t).unwrap();
        assert_eq!(
            b.open(Some(rb), Transport::Datagram, &s, t).unwrap(),
            &p[..]
        );
        let s = b.seal(rb, Transport::Frame, &p, t).unwrap();
        assert_eq!(a.open(Some(ra), Transport::Frame, &s, t).unwrap(), &p[..]);
    };
    for step in steps {
        step(&mut ring_a);
        exchange(&ring_a, &ring_b);
        step(&mut ring_b);
        exchange(&ring_a, &ring_b);
    }
    assert_eq!(ring_a.ids(), vec![key(2).id()]);
}

#[test]
fn a_spent_prefix_is_replaced_and_its_successor_opens() {
    let ring = Keyring::new(key(1));
    let mut a = envelope("c", 1);
    let first = a
        .seal(&ring, Transport::Datagram, &plain("c", b"1"), NOW)
        .unwrap();
    a.next = Some(u32::MAX);
    let last = a
        .seal(&ring, Transport::Datagram, &plain("c", b"2"), NOW)
        .unwrap();
    let renewed = a
        .seal(&ring, Transport::Datagram, &plain("c", b"3"), NOW)
        .unwrap();
    let prefix = |s: &[u8]| s[16..24].to_vec();
    assert_eq!(prefix(&first), prefix(&last));
    assert_eq!(&last[24..28], &u32::MAX.to_be_bytes());
    assert_ne!(prefix(&renewed), prefix(&last));
    assert_eq!(&renewed[24..28], &[0; 4]);
    let mut b = envelope("c", 2);
    for s in [&first, &last, &renewed] {
        assert!(b.open(Some(&ring), Transport::Datagram, s, NOW).is_ok());
    }
    let mut os = Envelope::new("c", SKEW, 64, PrefixSource::Os, true);
    let from_os = os
        .seal(&ring, Transport::Datagram, &plain("c", b"4"), NOW)
        .unwrap();
    assert!(
        b.open(Some(&ring), Transport::Datagram, &from_os, NOW)
            .is_ok()
    );
}

proptest! {
    #[test]
    fn any_body_round_trips_and_any_single_change_is_refused(
        body in proptest::collection::vec(any::<u8>(), 0..1_500),
        key_byte in any::<u8>(),
        frame in any::<bool>(),
        at in any::<prop::sample::Index>(),
        flip in 1..=255u8,
    ) {
        let ring = Keyring::new(key(key_byte));
        let transport = if frame { Transport::Frame } else { Transport::Datagram };
        let packet = plain("c", &body);
        let sealed = envelope("c", 1).seal(&ring, transport, &packet, NOW).unwrap();
        let mut bad = sealed.clone();
        let at = at.index(bad.len());
        bad[at] ^= flip;
        let mut b = envelope("c", 2);
        prop_assert!(b.open(Some(&ring), transport, &bad, NOW).is_err());
        prop_assert_eq!(&b.open(Some(&ring), transport, &sealed, NOW).unwrap()[..], &packet[..]);
    }

    #[test]
    fn arbitrary_bytes_never_open(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let ring = Keyring::new(key(1));
        let mut b = envelope("c", 2);
        let mut sealed_looking = bytes.clone();
        if sealed_looking.len() > 3 {
            sealed_looking[3] = SEALED;
        }
        for candidate in [&bytes, &sealed_looking] {
            let opened = b.open(Some(&ring), Transport::Datagram, candidate, NOW);
            prop_assert!(opened.is_err());
        }
    }
}
