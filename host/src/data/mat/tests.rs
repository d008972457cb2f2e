//! Tests of the MAT-file reader, on files written by [`super::writer`].

use super::writer::{Storage, Var, element, matrix, write_mat};
use super::*;

fn var<'a>(name: &'a str, dims: &'a [i32], values: &'a [f64], storage: Storage, compressed: bool) -> Var<'a> {
    Var { name, dims, values, storage, compressed }
}

fn problem(bytes: &[u8], names: [&str; 1]) -> String {
    let e = read_matrices(bytes, "x.mat", names).unwrap_err();
    assert!(matches!(e, DataError::Mat { .. }));
    let e = e.to_string();
    assert!(e.starts_with("x.mat: "), "{e}");
    e
}

/// A file header followed by raw element bytes.
fn with_header(elements: &[u8]) -> Vec<u8> {
    let mut out = write_mat(&[], false);
    out.extend_from_slice(elements);
    out
}

#[test]
fn reads_every_storage_both_byte_orders_compressed_or_not() {
    let values = [0.0, 1.0, 2.0, 255.0, 7.0, 3.0];
    for big in [false, true] {
        for compressed in [false, true] {
            for storage in [Storage::Double, Storage::Uint8, Storage::Single] {
                let bytes = write_mat(
                    &[
                        var("skipped", &[1, 1], &[9.0], storage, compressed),
                        var("a", &[2, 3], &values, storage, compressed),
                    ],
                    big,
                );
                let [a] = read_matrices(&bytes, "x.mat", ["a"]).unwrap();
                assert_eq!(a, Matrix { name: "a".into(), dims: vec![2, 3], data: values.to_vec() });
            }
        }
    }
}

#[test]
fn reads_a_small_data_element_and_non_integer_doubles() {
    // One uint8 value: the real part is a small element (4-byte tag form).
    let bytes = write_mat(&[var("one", &[1, 1], &[200.0], Storage::Uint8, false)], false);
    assert_eq!(read_matrices(&bytes, "x.mat", ["one"]).unwrap()[0].data, [200.0]);
    let v = [0.125, -3.5, 1e-300];
    let bytes = write_mat(&[var("v", &[3, 1], &v, Storage::Double, true)], true);
    assert_eq!(read_matrices(&bytes, "x.mat", ["v"]).unwrap()[0].data, v);
}

#[test]
fn a_later_variable_of_the_same_name_wins() {
    let bytes = write_mat(
        &[var("a", &[1, 1], &[1.0], Storage::Double, false), var("a", &[1, 1], &[2.0], Storage::Double, true)],
        false,
    );
    assert_eq!(read_matrices(&bytes, "x.mat", ["a"]).unwrap()[0].data, [2.0]);
}

#[test]
fn unknown_and_unexpected_types_are_errors() {
    let e = problem(&with_header(&element(11, &[0; 8], Endian::Little)), ["a"]);
    assert!(e.contains("unknown data type 11 at byte 128"), "{e}");
    let e = problem(&with_header(&element(MI_DOUBLE, &[0; 8], Endian::Little)), ["a"]);
    assert!(e.contains("top-level data element at byte 128 has data type 9"), "{e}");
}

/// An miMATRIX element with the given class, flags and real-part element.
fn raw_matrix(flags: u32, dims: &[i32], real: &[u8]) -> Vec<u8> {
    let e = Endian::Little;
    let mut body = element(MI_UINT32, &[flags.to_le_bytes(), [0; 4]].concat(), e);
    body.extend(element(MI_INT32, &dims.iter().flat_map(|d| d.to_le_bytes()).collect::<Vec<_>>(), e));
    body.extend(element(MI_INT8, b"a", e));
    body.extend_from_slice(real);
    element(MI_MATRIX, &body, e)
}

#[test]
fn non_numeric_variables_are_errors_when_asked_for() {
    let real = element(MI_DOUBLE, &1f64.to_le_bytes(), Endian::Little);
    for (flags, kind) in
        [(1, "cell array"), (5, "sparse matrix"), (4, "character array"), (6 | FLAG_COMPLEX, "complex matrix")]
    {
        let bytes = with_header(&raw_matrix(flags, &[1, 1], &real));
        let e = problem(&bytes, ["a"]);
        assert!(e.contains(&format!("variable `a` is a {kind}")), "{e}");
        // Not asked for: skipped.
        assert!(problem(&bytes, ["b"]).contains("no variable `b` (the file holds: a)"));
    }
}

#[test]
fn size_and_dimension_mismatches_are_errors() {
    let real = element(MI_DOUBLE, &[0; 16], Endian::Little);
    let e = problem(&with_header(&raw_matrix(6, &[2, 3], &real)), ["a"]);
    assert!(e.contains("`a` is 2×3 = 6 values but stores 2"), "{e}");
    let e = problem(&with_header(&raw_matrix(6, &[-1, 2], &real)), ["a"]);
    assert!(e.contains("dimensions [-1, 2]: negative"), "{e}");
    let e = problem(&with_header(&raw_matrix(6, &[2], &real)), ["a"]);
    assert!(e.contains("at least two"), "{e}");
    let ragged = element(MI_DOUBLE, &[0; 12], Endian::Little);
    let e = problem(&with_header(&raw_matrix(6, &[1, 1], &ragged)), ["a"]);
    assert!(e.contains("holds 12 bytes, not a multiple of 8"), "{e}");
}

#[test]
fn size_fields_beyond_the_data_are_errors_not_allocations() {
    // A top-level element claiming 4 GiB - 1 bytes.
    let mut el = MI_MATRIX.to_le_bytes().to_vec();
    el.extend_from_slice(&u32::MAX.to_le_bytes());
    el.extend_from_slice(&[0; 8]);
    let e = problem(&with_header(&el), ["a"]);
    assert!(e.contains("truncated at byte 128") && e.contains("needs 4294967303 bytes, 16 remain"), "{e}");
    // A real part claiming more than its matrix holds.
    let mut m = matrix(&var("a", &[1, 1], &[1.0], Storage::Double, false), Endian::Little);
    let n = m.len();
    m[n - 12..n - 8].copy_from_slice(&1000u32.to_le_bytes());
    let e = problem(&with_header(&m), ["a"]);
    assert!(e.contains("real part needs 1008 bytes, 16 remain"), "{e}");
    // A small element claiming more than 4 bytes.
    let mut m = matrix(&var("a", &[1, 1], &[1.0], Storage::Uint8, false), Endian::Little);
    let n = m.len();
    m[n - 8..n - 4].copy_from_slice(&(MI_UINT8 | 7 << 16).to_le_bytes());
    let e = problem(&with_header(&m), ["a"]);
    assert!(e.contains("small data element of 7 bytes"), "{e}");
}

#[test]
fn errors_inside_a_compressed_element_say_so() {
    let m = raw_matrix(6, &[2, 3], &element(MI_DOUBLE, &[0; 16], Endian::Little));
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut z, &m[..m.len() - 8]).unwrap();
    let z = z.finish().unwrap();
    let mut el = MI_COMPRESSED.to_le_bytes().to_vec();
    el.extend_from_slice(&(z.len() as u32).to_le_bytes());
    el.extend_from_slice(&z);
    let e = problem(&with_header(&el), ["a"]);
    assert!(e.contains("of the inflated compressed element at byte 128"), "{e}");
}
