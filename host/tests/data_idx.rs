//! The IDX reader: every malformed-file case gives the documented error, naming the file.

mod data_support;

use data_support::*;
use rebar_host::data::idx::{parse_images, parse_labels, read_images, read_labels};
use rebar_host::data::{DataError, IdxProblem};

fn problem(r: Result<impl std::fmt::Debug, DataError>) -> (String, IdxProblem) {
    match r {
        Err(DataError::Idx { file, problem }) => (file, problem),
        other => panic!("expected an IDX error, got {other:?}"),
    }
}

#[test]
fn valid_images_raw_and_gzip() {
    let px = grey_pixels(3, 9);
    let raw = valid_images(&px);
    for bytes in [raw.clone(), gzip(&raw)] {
        let imgs = parse_images(&bytes, "x").unwrap();
        assert_eq!(imgs.len(), 3);
        assert_eq!(imgs.pixels(), &px[..]);
        assert_eq!(imgs.image(2), &px[2 * 784..]);
    }
    assert!(parse_images(&valid_images(&[]), "empty").unwrap().is_empty());
}

#[test]
fn valid_labels_raw_and_gzip() {
    let raw = idx_labels(4, &[5, 0, 4, 1]);
    for bytes in [raw.clone(), gzip(&raw)] {
        assert_eq!(parse_labels(&bytes, "x").unwrap(), vec![5, 0, 4, 1]);
    }
}

#[test]
fn gzip_is_detected_by_magic_not_name() {
    let s = Scratch::new("magic-not-name");
    let raw = idx_labels(2, &[1, 2]);
    let gz_named_raw = s.write("labels.gz", &raw);
    let raw_named_gz = s.write("labels", &gzip(&raw));
    assert_eq!(read_labels(&gz_named_raw).unwrap(), vec![1, 2]);
    assert_eq!(read_labels(&raw_named_gz).unwrap(), vec![1, 2]);
}

#[test]
fn wrong_magic_says_which_kind_it_is() {
    let labels = idx_labels(1, &[3]);
    let (file, p) = problem(parse_images(&labels, "labels-as-images"));
    assert_eq!(file, "labels-as-images");
    assert!(matches!(p, IdxProblem::WrongMagic { found: 0x801, expected: 0x803, .. }));
    let msg = DataError::Idx { file, problem: p }.to_string();
    assert!(msg.contains("labels-as-images"), "{msg}");
    assert!(msg.contains("0x00000801") && msg.contains("0x00000803"), "{msg}");
    assert!(msg.contains("labels file"), "{msg}");

    let images = valid_images(&[0; 784]);
    let (_, p) = problem(parse_labels(&images, "f"));
    assert!(matches!(p, IdxProblem::WrongMagic { found: 0x803, expected: 0x801, .. }));
    // A file too short to be anything, but with a visible wrong magic, reports the magic.
    let (_, p) = problem(parse_images(b"PK\x03\x04", "zip"));
    assert!(matches!(p, IdxProblem::WrongMagic { found: 0x504b_0304, .. }));
}

#[test]
fn truncated_header() {
    let full = valid_images(&[0; 784]);
    for len in [0, 3, 4, 8, 15] {
        let (_, p) = problem(parse_images(&full[..len], "short"));
        assert!(matches!(p, IdxProblem::TruncatedHeader { len: l, need: 16, .. } if l == len), "len {len}: {p:?}");
    }
    let (_, p) = problem(parse_labels(&idx_labels(0, &[])[..7], "short"));
    assert!(matches!(p, IdxProblem::TruncatedHeader { len: 7, need: 8, .. }));
}

#[test]
fn truncated_data() {
    let full = valid_images(&grey_pixels(2, 1));
    let (file, p) = problem(parse_images(&full[..full.len() - 1], "cut.idx"));
    assert!(matches!(p, IdxProblem::TruncatedData { count: 2, expected: 1568, found: 1567 }));
    let msg = DataError::Idx { file, problem: p }.to_string();
    assert!(msg.starts_with("cut.idx: truncated data"), "{msg}");

    // A huge announced count with no data is an error, not an allocation.
    let (_, p) = problem(parse_images(&idx_images(u32::MAX, 28, 28, &[]), "huge"));
    assert!(matches!(p, IdxProblem::TruncatedData { count: u32::MAX, found: 0, .. }));
    let (_, p) = problem(parse_labels(&idx_labels(3, &[1, 2]), "labels"));
    assert!(matches!(p, IdxProblem::TruncatedData { count: 3, expected: 3, found: 2 }));
}

#[test]
fn trailing_garbage() {
    let mut bytes = valid_images(&[7; 784]);
    bytes.extend_from_slice(b"junk");
    let (_, p) = problem(parse_images(&bytes, "f"));
    assert!(matches!(p, IdxProblem::TrailingGarbage { expected: 784, extra: 4 }));
    let mut bytes = idx_labels(1, &[1]);
    bytes.push(0);
    let (_, p) = problem(parse_labels(&bytes, "f"));
    assert!(matches!(p, IdxProblem::TrailingGarbage { expected: 1, extra: 1 }));
}

#[test]
fn wrong_dimensions() {
    for (rows, cols) in [(32, 32), (28, 27), (0, 0), (784, 1)] {
        let bytes = idx_images(1, rows, cols, &[0; 784]);
        let (file, p) = problem(parse_images(&bytes, "cifar"));
        assert!(matches!(p, IdxProblem::WrongDimensions { rows: r, cols: c } if (r, c) == (rows, cols)));
        let msg = DataError::Idx { file, problem: p }.to_string();
        assert!(msg.contains(&format!("{rows}x{cols}")) && msg.contains("28x28"), "{msg}");
    }
}

#[test]
fn corrupt_gzip() {
    let gz = gzip(&valid_images(&grey_pixels(1, 3)));
    // Truncated stream.
    let (_, p) = problem(parse_images(&gz[..gz.len() / 2], "cut.gz"));
    assert!(matches!(p, IdxProblem::Gzip(_)), "{p:?}");
    // Corrupt CRC-32 in the trailer.
    let mut bad = gz.clone();
    let n = bad.len();
    bad[n - 8] ^= 0xff;
    let (_, p) = problem(parse_images(&bad, "crc.gz"));
    assert!(matches!(p, IdxProblem::Gzip(_)), "{p:?}");
    // Garbage after a complete member.
    let mut bad = gz.clone();
    bad.extend_from_slice(b"garbage after the stream");
    let (_, p) = problem(parse_images(&bad, "tail.gz"));
    assert!(matches!(p, IdxProblem::Gzip(_)), "{p:?}");
    // Just the gzip magic.
    let (_, p) = problem(parse_images(&[0x1f, 0x8b], "magic-only"));
    assert!(matches!(p, IdxProblem::Gzip(_)), "{p:?}");
}

#[test]
fn multi_member_gzip_is_read_whole() {
    let raw = idx_labels(4, &[1, 2, 3, 4]);
    let mut two = gzip(&raw[..6]);
    two.extend_from_slice(&gzip(&raw[6..]));
    assert_eq!(parse_labels(&two, "two-members").unwrap(), vec![1, 2, 3, 4]);
}

#[test]
fn missing_file_names_the_path() {
    let s = Scratch::new("missing-file");
    let path = s.path().join("nope-idx3-ubyte");
    let err = read_images(&path).unwrap_err();
    assert!(matches!(err, DataError::Io { action: "read", .. }));
    assert!(err.to_string().contains("nope-idx3-ubyte"), "{err}");
}
