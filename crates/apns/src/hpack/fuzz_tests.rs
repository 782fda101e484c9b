//! Bounded fuzzing of the HPACK decoder on stable Rust (proptest, a few seconds in the test
//! run): any block, random or built from HPACK's representations, decodes or fails without a
//! panic, never keeps more than the header list limit, and never grows the dynamic table
//! past its size.

use proptest::prelude::*;

use super::*;

/// One representation of a header block, or raw bytes.
#[derive(Debug, Clone)]
enum Op {
    Indexed(usize),
    /// With incremental indexing (or not), a name index (0 = literal name), the value.
    Literal(bool, usize, Vec<u8>, Vec<u8>),
    /// A string Huffman-flagged with arbitrary bytes.
    Huffman(Vec<u8>),
    SizeUpdate(usize),
    Raw(Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..80).prop_map(Op::Indexed),
        3 => (
            any::<bool>(),
            0usize..70,
            prop::collection::vec(any::<u8>(), 0..12),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..40),
                (0usize..5000).prop_map(|n| vec![b'v'; n]),
            ],
        )
            .prop_map(|(i, n, name, value)| Op::Literal(i, n, name, value)),
        1 => prop::collection::vec(any::<u8>(), 0..30).prop_map(Op::Huffman),
        1 => (0usize..5000).prop_map(Op::SizeUpdate),
        1 => prop::collection::vec(any::<u8>(), 0..16).prop_map(Op::Raw),
    ]
}

fn encode(ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Indexed(i) => indexed(&mut out, *i),
            Op::Literal(index, n, name, value) => {
                let (prefix, first) = if *index { (6, 0x40) } else { (4, 0x00) };
                int(&mut out, prefix, first, *n);
                if *n == 0 {
                    string(&mut out, name);
                }
                string(&mut out, value);
            }
            Op::Huffman(bytes) => {
                out.push(0x00);
                int(&mut out, 7, 0x80, bytes.len());
                out.extend_from_slice(bytes);
                string(&mut out, b"v");
            }
            Op::SizeUpdate(n) => int(&mut out, 5, 0x20, *n),
            Op::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }
    out
}

/// What a head keeps, counted as the limit counts it.
fn kept(head: &ResponseHead) -> usize {
    let fields: usize = head
        .fields
        .iter()
        .map(|(n, v)| 32 + n.as_str().len() + v.len())
        .sum();
    fields
        + head.status.map_or(0, |_| 32 + 7 + 3)
        + head.apns_id.as_ref().map_or(0, |v| 32 + 7 + v.len())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_block_decodes_within_the_limit_or_fails(
        blocks in prop::collection::vec(prop::collection::vec(op(), 0..24), 1..4),
        limit in prop_oneof![Just(64 * 1024), 0usize..2000],
    ) {
        let mut d = Decoder::new();
        for ops in &blocks {
            let block = encode(ops);
            if let Ok(head) = d.decode(&block, limit) {
                if head.over_limit {
                    prop_assert!(head.fields.is_empty() && head.status.is_none());
                } else {
                    prop_assert!(kept(&head) <= limit, "{} > {limit}", kept(&head));
                }
            }
            prop_assert!(d.size <= d.max_size && d.max_size <= MAX_TABLE);
            let entries: usize = d.dynamic.iter().map(|(n, v)| 32 + n.len() + v.len()).sum();
            prop_assert_eq!(entries, d.size);
        }
    }

    #[test]
    fn random_bytes_never_panic(
        blocks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..4),
    ) {
        let mut d = Decoder::new();
        for block in &blocks {
            let _ = d.decode(block, 4096);
        }
    }
}
