//! Data sanity (issue 22, item 6): IDX files of 0/1 pixels are read as already binary, `rebar
//! sample` bounds its grid, and a closed stdout ends the program quietly with exit status 0.

mod data_support;

use std::process::{Command, Output, Stdio};

use data_support::{Scratch, idx_labels, valid_images};
use rebar_host::data::{Binarize, Dataset};

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `n` images whose pixels are 0 or 1 (a set binarized before it was written).
fn binary_pixels(n: usize, salt: usize) -> Vec<u8> {
    (0..n * 784).map(|j| u8::from((j * 7 + salt) % 5 < 2)).collect()
}

#[test]
fn an_idx_set_of_zeros_and_ones_is_read_as_binary() {
    let s = Scratch::new("zero-one");
    let (train, test) = (binary_pixels(12, 1), binary_pixels(3, 2));
    let labels = |n: usize| idx_labels(n as u32, &vec![0; n]);
    s.write("train-images-idx3-ubyte", &valid_images(&train));
    s.write("train-labels-idx1-ubyte", &labels(12));
    s.write("t10k-images-idx3-ubyte", &valid_images(&test));
    s.write("t10k-labels-idx1-ubyte", &labels(3));
    for binarize in [Binarize::MNIST, Binarize::Dynamic] {
        let data = Dataset::from_idx_dir(s.path(), binarize).unwrap();
        // 12 training images: 10 train, 2 valid.
        for (split, pixels) in [(&data.train, &train[..10 * 784]), (&data.test, &test[..])] {
            for i in 0..split.len() {
                let expected: Vec<f32> = pixels[i * 784..(i + 1) * 784].iter().map(|&p| f32::from(p)).collect();
                assert_eq!(split.image(i).to_vec(), expected, "{binarize:?}: image {i} is not the stored one");
            }
        }
    }
}

#[test]
fn sample_refuses_a_grid_beyond_its_limit() {
    let o = Command::new(env!("CARGO_BIN_EXE_rebar"))
        .args(["sample", "no-such-run", "--rows", "100000", "--columns", "100000"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("--rows 100000 --columns 100000: a grid holds at most 10000 digits"), "{}", text(&o));
}

/// Runs rebar with its stdout a pipe whose reader is already closed.
fn with_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_rebar")).args(args).stdout(writer).stderr(Stdio::piped()).output().unwrap()
}

#[test]
fn a_closed_stdout_ends_the_program_quietly() {
    let o = with_closed_stdout(&["footprint"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // `rebar train … | true`: the run's files are written, then the summary meets the closed pipe.
    let d = Scratch::new("closed-stdout");
    let out = d.path().join("run");
    let o = with_closed_stdout(&[
        "train",
        "--steps",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--eval-examples",
        "8",
        "--iwae-samples",
        "2",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.join("summary.json").is_file());
}
