//! Property tests for the parsers: arbitrary bytes and mutated valid files always give `Ok`
//! or `Err`, never a panic, and the result is the right one where it is predictable. The
//! same parsers are also a cargo-fuzz target (`host/fuzz`).

mod data_support;

use std::sync::LazyLock;

use data_support::*;
use proptest::prelude::*;
use rebar_host::data::idx::{parse_images, parse_labels};
use rebar_host::data::{Binarize, DataError, Dataset, IdxProblem};

/// Runs every parser on `bytes`; a panic fails the property.
fn parse_all(bytes: &[u8]) {
    let _ = parse_images(bytes, "fuzz");
    let _ = parse_labels(bytes, "fuzz");
    let _ = Dataset::from_rbin_bytes(bytes, "fuzz");
}

fn idx_problem<T: std::fmt::Debug>(r: Result<T, DataError>) -> IdxProblem {
    match r {
        Err(DataError::Idx { problem, .. }) => problem,
        other => panic!("expected an IDX error, got {other:?}"),
    }
}

/// A valid images file of 0..=2 images.
fn valid_images_file() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (0usize..=2)
        .prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n * 784))
        .prop_map(|px| (valid_images(&px), px))
}

/// A valid labels file of 0..=40 labels.
fn valid_labels_file() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    proptest::collection::vec(any::<u8>(), 0..=40).prop_map(|l| (idx_labels(l.len() as u32, &l), l))
}

/// A small static dataset's container, made once.
static CONTAINER: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let (dir, _, _) = synthetic_dir("props-container", 6, 1);
    Dataset::from_idx_dir(dir.path(), Binarize::Static { seed: 9 }).unwrap().to_rbin_gz().unwrap()
});

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        parse_all(&bytes);
    }

    #[test]
    fn arbitrary_gzip_lookalikes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut bytes = vec![0x1f, 0x8b, 8];
        bytes.extend_from_slice(&tail);
        parse_all(&bytes);
    }

    /// With a correct magic, the parser accepts exactly the 28×28 files whose data length
    /// matches the announced count.
    #[test]
    fn header_oracle(
        count in prop_oneof![0u32..4, any::<u32>()],
        rows in prop_oneof![Just(28u32), any::<u32>()],
        cols in prop_oneof![Just(28u32), any::<u32>()],
        len in prop_oneof![Just(None), (0usize..3200).prop_map(Some)],
    ) {
        let len = len.unwrap_or((count as usize).saturating_mul(784).min(4 * 784));
        let bytes = idx_images(count, rows, cols, &vec![1; len]);
        let ok = rows == 28 && cols == 28 && len as u64 == u64::from(count) * 784;
        let r = parse_images(&bytes, "h");
        prop_assert_eq!(r.is_ok(), ok, "{:?}", r.err());
        if let Ok(imgs) = r {
            prop_assert_eq!(imgs.len(), count as usize);
        }
    }

    #[test]
    fn truncated_images_are_errors((file, _) in valid_images_file(), cut in any::<prop::sample::Index>()) {
        let k = cut.index(file.len());
        prop_assert!(parse_images(&file[..k], "t").is_err());
        let gz = gzip(&file);
        let k = cut.index(gz.len());
        prop_assert!(parse_images(&gz[..k], "t").is_err());
    }

    #[test]
    fn truncated_labels_are_errors((file, _) in valid_labels_file(), cut in any::<prop::sample::Index>()) {
        let k = cut.index(file.len());
        prop_assert!(parse_labels(&file[..k], "t").is_err());
        let gz = gzip(&file);
        let k = cut.index(gz.len());
        prop_assert!(parse_labels(&gz[..k], "t").is_err());
    }

    /// Any change to any of the 16 header bytes is an error of the matching kind.
    #[test]
    fn flipped_header_bytes_are_errors(
        (file, _) in valid_images_file(),
        at in 0usize..16,
        mask in 1u8..=255,
    ) {
        let mut bad = file.clone();
        bad[at] ^= mask;
        let p = idx_problem(parse_images(&bad, "f"));
        let kind_ok = match at {
            0..=3 => matches!(p, IdxProblem::WrongMagic { .. }),
            4..=7 => matches!(p, IdxProblem::TruncatedData { .. } | IdxProblem::TrailingGarbage { .. }),
            _ => matches!(p, IdxProblem::WrongDimensions { .. }),
        };
        prop_assert!(kind_ok, "byte {}: {:?}", at, p);
        // The same through gzip.
        prop_assert!(parse_images(&gzip(&bad), "f").is_err());
    }

    #[test]
    fn flipped_label_header_bytes_are_errors(
        (file, _) in valid_labels_file(),
        at in 0usize..8,
        mask in 1u8..=255,
    ) {
        let mut bad = file.clone();
        bad[at] ^= mask;
        prop_assert!(parse_labels(&bad, "f").is_err());
    }

    /// Data bytes are not validated (any grey level is valid): a flip there still parses.
    #[test]
    fn flipped_data_bytes_still_parse(
        (file, px) in valid_images_file(),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        prop_assume!(!px.is_empty());
        let j = at.index(px.len());
        let mut bad = file.clone();
        bad[16 + j] ^= mask;
        let imgs = parse_images(&bad, "f").unwrap();
        prop_assert_eq!(imgs.pixels()[j], px[j] ^ mask);
    }

    #[test]
    fn trailing_garbage_is_an_error(
        (file, _) in valid_images_file(),
        extra in proptest::collection::vec(any::<u8>(), 1..100),
    ) {
        let mut bad = file.clone();
        bad.extend_from_slice(&extra);
        let p = idx_problem(parse_images(&bad, "g"));
        prop_assert!(
            matches!(p, IdxProblem::TrailingGarbage { extra: e, .. } if e == extra.len() as u64),
            "{:?}", p
        );
    }

    /// gzip round trip; a corrupted gzip stream either fails or (where the flipped byte is one
    /// the format does not check, like the timestamp) yields the original contents.
    #[test]
    fn gzip_round_trip_and_corruption(
        (file, px) in valid_images_file(),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let gz = gzip(&file);
        let imgs = parse_images(&gz, "z").unwrap();
        prop_assert_eq!(imgs.pixels(), &px[..]);
        let mut bad = gz.clone();
        let k = at.index(bad.len());
        bad[k] ^= mask;
        if let Ok(imgs) = parse_images(&bad, "z") {
            prop_assert_eq!(imgs.pixels(), &px[..], "flip at {} of {}", k, gz.len());
        }
    }

    #[test]
    fn labels_round_trip((file, labels) in valid_labels_file()) {
        prop_assert_eq!(parse_labels(&file, "l").unwrap(), labels.clone());
        prop_assert_eq!(parse_labels(&gzip(&file), "l").unwrap(), labels);
    }

    /// The container: a flipped byte in the compressed file is an error or harmless; any
    /// truncation is an error.
    #[test]
    fn mutated_containers(
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
        cut in any::<prop::sample::Index>(),
    ) {
        let good = Dataset::from_rbin_bytes(&CONTAINER, "c").unwrap();
        let mut bad = CONTAINER.clone();
        let k = at.index(bad.len());
        bad[k] ^= mask;
        if let Ok(ds) = Dataset::from_rbin_bytes(&bad, "c") {
            prop_assert_eq!(ds, good.clone());
        }
        let k = cut.index(CONTAINER.len());
        prop_assert!(Dataset::from_rbin_bytes(&CONTAINER[..k], "c").is_err());
    }
}
