//! Bounded fuzzing of the frame reader on stable Rust (proptest, a few seconds in the test
//! run): whatever frames a server sends, in whatever pieces, the state handles them without a
//! panic, queues a bounded number of bytes, keeps decoded header lists within the limit, and
//! every stream gets exactly one outcome.

use proptest::prelude::*;

use super::*;

/// A frame from a server, often valid in form, sometimes not.
#[derive(Debug, Clone)]
struct Raw {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
    /// A length field that lies (over the frame limit).
    oversize: bool,
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..24),
        // Header blocks of static indices and small literals.
        2 => prop::collection::vec(
            prop_oneof![Just(0x88u8), Just(0x8c), Just(0x95), Just(0xbe), Just(0x20), any::<u8>()],
            0..40,
        ),
        // Settings entries and window increments of interesting values.
        2 => prop::collection::vec(
            (0u16..8, prop_oneof![Just(0u32), Just(1), Just(16), Just(65_535), Just(0x7fff_ffff), any::<u32>()]),
            0..4,
        )
        .prop_map(|e| e.iter().flat_map(|(k, v)| k.to_be_bytes().into_iter().chain(v.to_be_bytes())).collect()),
        1 => (0usize..4_000).prop_map(|n| vec![0x95; n]),
    ]
}

fn raw() -> impl Strategy<Value = Raw> {
    (
        prop_oneof![8 => 0u8..10, 1 => any::<u8>()],
        prop_oneof![
            Just(0u8),
            Just(END_STREAM),
            Just(END_HEADERS),
            Just(END_HEADERS | END_STREAM),
            any::<u8>()
        ],
        prop_oneof![
            Just(0u32),
            Just(1),
            Just(3),
            Just(5),
            Just(7),
            Just(2),
            any::<u32>()
        ],
        payload(),
        prop::bool::weighted(0.01),
    )
        .prop_map(|(kind, flags, stream, payload, oversize)| Raw {
            kind,
            flags,
            stream,
            payload,
            oversize,
        })
}

fn bytes(frames: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        let len = if f.oversize {
            MAX_FRAME + 1
        } else {
            f.payload.len()
        };
        frame_head(&mut out, len, f.kind, f.flags, f.stream);
        out.extend_from_slice(&f.payload);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn any_frames_in_any_pieces_give_one_outcome_per_stream(
        frames in prop::collection::vec(raw(), 0..40),
        cut in prop::collection::vec(1usize..4000, 1..8),
        streams in 1usize..5,
        body_len in prop_oneof![Just(10usize), 0usize..20_000],
    ) {
        let mut state = State::new(Vec::new());
        let body = vec![b'x'; body_len];
        let mut answers = Vec::new();
        for i in 0..streams as u32 {
            let (reply, answer) = oneshot::channel();
            state.open(2 * i + 1, reply, &|out| out.extend_from_slice(&[0x83, 0x84]), &body);
            answers.push(answer);
        }
        let input = bytes(&frames);
        // Read as a socket would deliver it: in pieces, unhandled bytes kept for the next.
        let (mut buffered, mut fed) = (Vec::new(), 0);
        let mut pieces = cut.iter().cycle();
        while fed < input.len() && state.ended.is_none() {
            let n = (*pieces.next().unwrap()).min(input.len() - fed);
            buffered.extend_from_slice(&input[fed..fed + n]);
            fed += n;
            let used = state.read_frames(&buffered, 0);
            buffered.drain(..used);
            // What may be queued: the back-pressure bound, one frame's replies, the bodies.
            prop_assert!(state.out.len() <= MAX_QUEUED_OUT + 64 + streams * (body_len + 64));
            // The writer took it all.
            state.out.clear();
            prop_assert!(buffered.len() < MAX_QUEUED_OUT + 9 + MAX_FRAME);
        }
        state.end("fuzz: the end".into());
        for (i, mut answer) in answers.into_iter().enumerate() {
            match answer.try_recv() {
                Ok(Ok(a)) => {
                    let list: usize = a.headers.iter().map(|(n, v)| 32 + n.as_str().len() + v.len()).sum();
                    prop_assert!(list <= MAX_HEADER_LIST + 32 + 7 + 64);
                    prop_assert!(a.body.len() <= MAX_BODY);
                }
                Ok(Err(_)) => {}
                Err(e) => prop_assert!(false, "stream {} got no outcome: {e:?}", 2 * i + 1),
            }
        }
    }
}
