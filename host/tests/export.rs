//! The weights leave rebar (issue 22, item 8): `rebar export` writes a safetensors file, read
//! back here without the writer (the format by hand: an 8-byte little-endian header length, the
//! JSON header, the data) and compared with the checkpoint, also read by hand (its layout is in
//! `host/src/train/checkpoint.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

fn rebar(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rebar")).args(args).output().expect("run rebar")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rebar-export-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

/// The checkpoint's header (JSON) and its f32 state records (key, index, values), in order.
fn read_checkpoint(bytes: &[u8]) -> (serde_json::Value, Vec<(String, u32, Vec<f32>)>) {
    assert_eq!(&bytes[..6], b"RBCKPT");
    let header_len = u64_at(bytes, 8) as usize;
    let header = serde_json::from_slice(&bytes[16..16 + header_len]).unwrap();
    let mut at = 16 + header_len;
    let state_end = at + 8 + u64_at(bytes, at) as usize;
    at += 8;
    let mut records = Vec::new();
    while at < state_end {
        let key_len = bytes[at] as usize;
        let key = String::from_utf8(bytes[at + 1..at + 1 + key_len].to_vec()).unwrap();
        at += 1 + key_len;
        let index = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let (kind, count) = (bytes[at + 4], u64_at(bytes, at + 5) as usize);
        at += 13;
        let width = if kind == 0 { 4 } else { 8 };
        if kind == 0 {
            records.push((key, index, f32s(&bytes[at..at + count * width])));
        }
        at += count * width;
    }
    (header, records)
}

#[test]
fn export_writes_every_tensor_by_name_with_its_shape_values_and_metadata() {
    let d = tmp("linear1");
    let dir = d.to_str().unwrap();
    let o = rebar(&[
        "train",
        "--steps",
        "20",
        "--out",
        dir,
        "--quiet",
        "--eval-examples",
        "8",
        "--iwae-samples",
        "2",
        "--seed",
        "3",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let file = d.join("weights.safetensors");
    let o = rebar(&["export", dir, "--format", "safetensors", "--out", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    let bytes = std::fs::read(&file).unwrap();
    let n = u64_at(&bytes, 0) as usize;
    let header: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let meta = &header["__metadata__"];
    for (k, v) in [("model", "linear1"), ("task", "gen"), ("estimator", "rebar"), ("step", "20"), ("seed", "3")] {
        assert_eq!(meta[k], v, "metadata {k}: {meta}");
    }
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("summary.json")).unwrap()).unwrap();
    assert_eq!(meta["revision"], summary["revision"]);

    // The linear 1-layer model: q(b|x) 784→200, p(x|b) 200→784, the prior, the fixed vectors.
    let expected: [(&str, &[usize]); 7] = [
        ("enc.w", &[784, 200]),
        ("enc.b", &[200]),
        ("dec.w", &[200, 784]),
        ("dec.b", &[784]),
        ("prior", &[200]),
        ("input_mean", &[784]),
        ("output_bias", &[784]),
    ];
    let names: Vec<&str> = header.keys().filter(|k| *k != "__metadata__").map(String::as_str).collect();
    let mut wanted: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    wanted.sort();
    assert_eq!(names, wanted);

    let (ckpt_header, records) = read_checkpoint(&std::fs::read(d.join("checkpoint.rbck")).unwrap());
    assert_eq!(ckpt_header["step"], 20);
    // The model's records come first: its five tensors as `model` 0..5, then the fixed vectors.
    for (k, (name, shape)) in expected.iter().enumerate() {
        let t = &header[*name];
        assert_eq!(t["dtype"], "F32", "{name}");
        let got: Vec<usize> = serde_json::from_value(t["shape"].clone()).unwrap();
        assert_eq!(got, *shape, "{name}");
        let [start, end]: [usize; 2] = serde_json::from_value(t["data_offsets"].clone()).unwrap();
        let values = f32s(&data[start..end]);
        let (key, index, stored) = &records[k];
        let (want_key, want_index) = if k < 5 { ("model", k as u32) } else { (*name, 0) };
        assert_eq!((key.as_str(), *index), (want_key, want_index), "record {k}");
        assert_eq!(&values, stored, "{name}: exported values differ from the checkpoint's");
    }
    // Trained, not zero: the encoder's weights moved from their initialisation somewhere.
    assert!(records[0].2.iter().any(|&w| w != 0.0));

    // Without --out the file goes beside the checkpoint.
    let o = rebar(&["export", dir]);
    assert!(o.status.success() && d.join("model.safetensors").is_file(), "{}", text(&o));
}
