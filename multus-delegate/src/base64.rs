//! Go's encoding of `[]byte` in JSON: standard base64 with padding. Padding
//! is optional and line breaks are skipped when decoding, as Go's decoder does.

use ::base64::Engine as _;
use ::base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &::base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub(crate) fn encode(input: &[u8]) -> String {
    GO_STD.encode(input)
}

pub(crate) fn decode(input: &str) -> Result<Vec<u8>, String> {
    let compact: String = input
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n'))
        .collect();
    GO_STD
        .decode(compact)
        .map_err(|e| format!("illegal base64 data: {e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), coded);
            assert_eq!(decode(coded).unwrap(), plain.as_bytes());
        }
        assert_eq!(decode("Zm9v\nYmFy").unwrap(), b"foobar");
        assert_eq!(decode("Zg").unwrap(), b"f");
        assert!(decode("Zg=a").is_err());
        assert!(decode("Z").is_err());
        assert!(decode("Zm9v!").is_err());
    }

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn decode_never_panics(s in "\\PC{0,64}") {
            let _ = decode(&s);
        }
    }
}
