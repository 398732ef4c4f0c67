//! Mutations of one input: byte-level edits, chunk duplication, splicing
//! with another corpus entry and insertion of dictionary tokens.

use crate::rng::Rng;

#[cfg(test)]
use crate::dict::COMMON_TOKENS;

/// Bytes that are likely to change how a parser reads its input.
const INTERESTING_BYTES: &[u8] = b"\0\xff\x7f\x80\xc3\xe2\xf0\"{}[],:\\ \n@/;=.-_0aAzZ";

/// Interesting numbers, used to replace a run of digits.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "4",
    "6",
    "15",
    "16",
    "32",
    "33",
    "128",
    "129",
    "255",
    "256",
    "65536",
    "2147483648",
    "4294967296",
    "18446744073709551616",
    "1e400",
    "0.5",
];

/// Mutates `input` in place with one to a few stacked edits. `other` is a
/// second corpus entry for splicing; `tokens` the target's dictionary.
/// With `json`, a third of the mutations of JSON inputs edit one node of
/// the document instead (see [`crate::structured`]). The result is at most
/// `max_len` bytes.
pub fn mutate(
    rng: &mut Rng,
    input: &mut Vec<u8>,
    other: &[u8],
    tokens: &[&[u8]],
    json: bool,
    max_len: usize,
) {
    if json && rng.one_in(3) && crate::structured::mutate_json(rng, input, other, tokens) {
        input.truncate(max_len);
        return;
    }
    // Mostly few edits (small steps find parser edge cases), sometimes a burst.
    let edits = if rng.one_in(8) {
        2 + rng.below(14)
    } else {
        1 + rng.below(3)
    };
    for _ in 0..edits {
        edit(rng, input, other, tokens);
    }
    input.truncate(max_len);
}

fn edit(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8], tokens: &[&[u8]]) {
    let len = input.len();
    // An empty input can only grow.
    let op = if len == 0 {
        [2, 5, 6][rng.below(3)]
    } else {
        rng.below(12)
    };
    match op {
        // Bit flip.
        0 => {
            let i = rng.below(len);
            input[i] ^= 1 << rng.below(8);
        }
        // Replace a byte.
        1 => {
            let i = rng.below(len);
            input[i] = random_byte(rng);
        }
        // Insert a byte.
        2 => {
            let i = rng.below(len + 1);
            let b = random_byte(rng);
            input.insert(i, b);
        }
        // Delete a range.
        3 => {
            let start = rng.below(len);
            let n = 1 + rng.below((len - start).min(16));
            input.drain(start..start + n);
        }
        // Duplicate a chunk somewhere else.
        4 => {
            let start = rng.below(len);
            let n = 1 + rng.below((len - start).min(64));
            let chunk = input[start..start + n].to_vec();
            let at = rng.below(len + 1);
            input.splice(at..at, chunk);
        }
        // Splice: our head with the other entry's tail, or a chunk of it inserted.
        5 => {
            if other.is_empty() {
                return;
            }
            let from = rng.below(other.len());
            if rng.one_in(2) {
                let cut = rng.below(len + 1);
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            } else {
                let n = 1 + rng.below((other.len() - from).min(128));
                let at = rng.below(len + 1);
                input.splice(at..at, other[from..from + n].iter().copied());
            }
        }
        // Insert a dictionary token.
        6 => {
            let Some(token) = rng.pick(tokens) else {
                return;
            };
            let at = rng.below(len + 1);
            input.splice(at..at, token.iter().copied());
        }
        // Replace a range with a dictionary token.
        7 => {
            let Some(token) = rng.pick(tokens) else {
                return;
            };
            let start = rng.below(len);
            let n = rng.below((len - start).min(token.len() + 8) + 1);
            input.splice(start..start + n, token.iter().copied());
        }
        // Toggle the case of an ASCII letter (keys are folded case-insensitively).
        8 => {
            let i = rng.below(len);
            if input[i].is_ascii_alphabetic() {
                input[i] ^= 0x20;
            }
        }
        // Replace a run of digits with an interesting number.
        9 => {
            let i = rng.below(len);
            let Some(start) = input[i..]
                .iter()
                .position(u8::is_ascii_digit)
                .map(|p| p + i)
            else {
                return;
            };
            let end = input[start..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .map_or(len, |p| p + start);
            let Some(n) = rng.pick(NUMBERS) else {
                return;
            };
            input.splice(start..end, n.bytes());
        }
        // Truncate.
        10 => {
            let at = rng.below(len);
            input.truncate(at);
        }
        // Swap two bytes.
        _ => {
            let (i, j) = (rng.below(len), rng.below(len));
            input.swap(i, j);
        }
    }
}

fn random_byte(rng: &mut Rng) -> u8 {
    if rng.one_in(2) {
        INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())]
    } else {
        (rng.next_u64() & 0xff) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_bounded() {
        let tokens: Vec<&[u8]> = COMMON_TOKENS.iter().map(|t| t.as_bytes()).collect();
        let run = |seed| {
            let mut rng = Rng::new(seed);
            let mut out = Vec::new();
            for _ in 0..200 {
                let mut input = b"{\"cniVersion\":\"1.0.0\"}".to_vec();
                mutate(&mut rng, &mut input, b"other", &tokens, true, 40);
                assert!(input.len() <= 40);
                out.push(input);
            }
            out
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn empty_input_grows() {
        let mut rng = Rng::new(0);
        let tokens: Vec<&[u8]> = vec![b"x"];
        let grew = (0..50).any(|_| {
            let mut input = Vec::new();
            mutate(&mut rng, &mut input, b"", &tokens, false, 100);
            !input.is_empty()
        });
        assert!(grew);
    }
}
