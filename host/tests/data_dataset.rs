//! `Dataset::from_idx_dir`, the splits, static and dynamic binarization, and the documented
//! random stream, on tiny synthetic IDX files.

mod data_support;

use data_support::*;
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rebar_host::data::{Binarize, DataError, Dataset, IMAGE_PIXELS, MNIST_SEED, Split, bernoulli_bit};

/// The documented generator, written out from its definition (SplitMix64 seeding, then
/// xoshiro256++, `next_u32` = upper half of `next_u64`), so that a change of behaviour in
/// `rand_xoshiro` cannot silently change the binarization.
struct Reference([u64; 4]);

impl Reference {
    fn new(seed: u64) -> Reference {
        let mut x = seed;
        Reference([0; 4].map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }))
    }
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let r = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        r
    }
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    /// u/2^32 < p/255, exactly.
    fn bit(&mut self, p: u8) -> f32 {
        let u = self.next_u32() as u128;
        if u * 255 < (p as u128) << 32 { 1.0 } else { 0.0 }
    }
}

fn all_images(s: &Split) -> Vec<[f32; IMAGE_PIXELS]> {
    (0..s.len()).map(|i| s.image(i)).collect()
}

#[test]
fn documented_stream_is_rand_xoshiro_seed_from_u64() {
    let mut a = Xoshiro256PlusPlus::seed_from_u64(MNIST_SEED);
    let mut b = Reference::new(MNIST_SEED);
    for _ in 0..1000 {
        assert_eq!(a.next_u32(), b.next_u32());
    }
    assert_eq!(MNIST_SEED, u64::from_be_bytes(*b"rebar-mn"));
}

#[test]
fn bernoulli_bit_is_exact() {
    for p in 0..=255u8 {
        // The threshold is the smallest u with u*255 >= p*2^32.
        let t = (u64::from(p) << 32).div_ceil(255);
        if t > 0 {
            assert!(bernoulli_bit((t - 1) as u32, p), "p={p}");
        }
        if t <= u64::from(u32::MAX) {
            assert!(!bernoulli_bit(t as u32, p), "p={p}");
        }
    }
    assert!(!bernoulli_bit(0, 0));
    assert!(bernoulli_bit(u32::MAX, 255));
}

#[test]
fn static_binarization_follows_the_documented_order() {
    let (dir, train, test) = synthetic_dir("static-order", 12, 3);
    let ds = Dataset::from_idx_dir(dir.path(), Binarize::Static { seed: 42 }).unwrap();
    assert_eq!((ds.train.len(), ds.valid.len(), ds.test.len()), (10, 2, 3));
    assert_eq!(ds.binarization, Binarize::Static { seed: 42 });
    // Training file images in order, row-major, then the test file, one draw per pixel.
    let mut r = Reference::new(42);
    let expect: Vec<f32> = train.iter().chain(&test).map(|&p| r.bit(p)).collect();
    let got: Vec<f32> = [&ds.train, &ds.valid, &ds.test].iter().flat_map(|s| all_images(s)).flatten().collect();
    assert_eq!(got, expect);
    // Labels follow their images.
    let lab = |n: std::ops::Range<usize>| n.map(|i| (i % 10) as u8).collect::<Vec<_>>();
    assert_eq!(ds.train.labels().unwrap(), lab(0..10));
    assert_eq!(ds.valid.labels().unwrap(), lab(10..12));
    assert_eq!(ds.test.labels().unwrap(), lab(0..3));
    // Pixels at 0 stay 0 and pixels at 255 become 1.
    for (k, &p) in train.iter().enumerate().take(10 * 784) {
        let v = ds.train.image(k / 784)[k % 784];
        match p {
            0 => assert_eq!(v, 0.0),
            255 => assert_eq!(v, 1.0),
            _ => {}
        }
    }
}

#[test]
fn static_is_reproducible_and_seed_dependent() {
    let (dir, _, _) = synthetic_dir("static-seed", 6, 1);
    let a = Dataset::from_idx_dir(dir.path(), Binarize::Static { seed: 1 }).unwrap();
    let b = Dataset::from_idx_dir(dir.path(), Binarize::Static { seed: 1 }).unwrap();
    let c = Dataset::from_idx_dir(dir.path(), Binarize::Static { seed: 2 }).unwrap();
    assert_eq!(a, b);
    assert_ne!(all_images(&a.train), all_images(&c.train));
    assert_eq!((a.train.len(), a.valid.len(), a.test.len()), (5, 1, 1));
}

#[test]
fn static_fill_batch_copies_and_draws_nothing() {
    let (dir, _, _) = synthetic_dir("static-batch", 12, 2);
    let ds = Dataset::from_idx_dir(dir.path(), Binarize::MNIST).unwrap();
    assert!(ds.train.is_static());
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let mut out = vec![[0.5f32; IMAGE_PIXELS]; 3];
    ds.train.fill_batch(&[4, 0, 4], &mut out, &mut rng);
    assert_eq!(out[0], ds.train.image(4));
    assert_eq!(out[1], ds.train.image(0));
    assert_eq!(out[2], ds.train.image(4));
    assert_eq!(rng, Xoshiro256PlusPlus::seed_from_u64(7), "no draw for static data");
}

#[test]
fn dynamic_keeps_grey_levels_and_resamples() {
    let (dir, train, _) = synthetic_dir("dynamic", 12, 2);
    let ds = Dataset::from_idx_dir(dir.path(), Binarize::Dynamic).unwrap();
    assert!(!ds.train.is_static());
    assert_eq!(ds.binarization, Binarize::Dynamic);
    assert_eq!((ds.train.len(), ds.valid.len(), ds.test.len()), (10, 2, 2));
    // image() gives the Bernoulli means.
    for (j, &v) in ds.train.image(3).iter().enumerate() {
        assert_eq!(v, f32::from(train[3 * 784 + j]) / 255.0);
    }
    // fill_batch: one next_u32 per pixel, batch order, row-major, exact comparison.
    let idx = [3usize, 9, 3];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(99);
    let mut r = Reference::new(99);
    let mut out = vec![[0.5f32; IMAGE_PIXELS]; 3];
    ds.train.fill_batch(&idx, &mut out, &mut rng);
    for (k, &i) in idx.iter().enumerate() {
        for j in 0..784 {
            assert_eq!(out[k][j], r.bit(train[i * 784 + j]), "k={k} j={j}");
        }
    }
    // The same image twice in one batch gets two different samples; a second call differs.
    assert_ne!(out[0], out[2]);
    let mut again = vec![[0.0f32; IMAGE_PIXELS]; 3];
    ds.train.fill_batch(&idx, &mut again, &mut rng);
    assert_ne!(out, again);
    // The same generator state gives the same batch.
    let mut replay = vec![[0.0f32; IMAGE_PIXELS]; 3];
    ds.train.fill_batch(&idx, &mut replay, &mut Xoshiro256PlusPlus::seed_from_u64(99));
    assert_eq!(out, replay);
}

#[test]
fn dynamic_samples_have_the_right_mean() {
    let (dir, _, _) = synthetic_dir("dynamic-mean", 6, 1);
    let ds = Dataset::from_idx_dir(dir.path(), Binarize::Dynamic).unwrap();
    let p = ds.train.image(0);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let n = 2000;
    let mut sum = [0f64; IMAGE_PIXELS];
    let mut out = [[0f32; IMAGE_PIXELS]; 1];
    for _ in 0..n {
        ds.train.fill_batch(&[0], &mut out, &mut rng);
        for (s, &v) in sum.iter_mut().zip(&out[0]) {
            assert!(v == 0.0 || v == 1.0);
            *s += f64::from(v);
        }
    }
    for j in 0..IMAGE_PIXELS {
        let (m, q) = (sum[j] / n as f64, f64::from(p[j]));
        let sd = (q * (1.0 - q) / n as f64).sqrt();
        assert!((m - q).abs() <= 5.0 * sd + 1e-12, "pixel {j}: mean {m}, p {q}");
    }
}

#[test]
fn means() {
    let (dir, train, _) = synthetic_dir("means", 12, 1);
    let dynamic = Dataset::from_idx_dir(dir.path(), Binarize::Dynamic).unwrap();
    let m = dynamic.train_mean();
    for j in 0..IMAGE_PIXELS {
        let s: u32 = (0..10).map(|i| u32::from(train[i * 784 + j])).sum();
        assert!((m[j] - s as f32 / 2550.0).abs() < 1e-6);
    }
    let st = Dataset::from_idx_dir(dir.path(), Binarize::Static { seed: 3 }).unwrap();
    let m = st.train_mean();
    for j in 0..IMAGE_PIXELS {
        let ones: f32 = (0..10).map(|i| st.train.image(i)[j]).sum();
        assert_eq!(m[j], ones / 10.0);
    }
}

#[test]
#[should_panic(expected = "indices")]
fn fill_batch_checks_lengths() {
    let (dir, _, _) = synthetic_dir("batch-len", 6, 1);
    let ds = Dataset::from_idx_dir(dir.path(), Binarize::MNIST).unwrap();
    let mut out = vec![[0f32; IMAGE_PIXELS]; 2];
    ds.train.fill_batch(&[0], &mut out, &mut Xoshiro256PlusPlus::seed_from_u64(0));
}

#[test]
fn count_mismatch_names_both_files() {
    let (dir, _, _) = synthetic_dir("count-mismatch", 6, 2);
    dir.write("t10k-labels-idx1-ubyte", &idx_labels(3, &[0, 1, 2]));
    let err = Dataset::from_idx_dir(dir.path(), Binarize::MNIST).unwrap_err();
    assert!(matches!(err, DataError::CountMismatch { n_images: 2, n_labels: 3, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("t10k-images-idx3-ubyte") && msg.contains("t10k-labels-idx1-ubyte"));
}

#[test]
fn missing_file_and_too_few_images() {
    let (dir, _, _) = synthetic_dir("missing", 6, 1);
    std::fs::remove_file(dir.path().join("t10k-images-idx3-ubyte")).unwrap();
    let err = Dataset::from_idx_dir(dir.path(), Binarize::Dynamic).unwrap_err();
    assert!(matches!(err, DataError::Missing { name: "t10k-images-idx3-ubyte", .. }));
    assert!(err.to_string().contains("t10k-images-idx3-ubyte.gz"), "{err}");

    let (dir, _, _) = synthetic_dir("too-few", 5, 1);
    let err = Dataset::from_idx_dir(dir.path(), Binarize::Dynamic).unwrap_err();
    assert!(matches!(err, DataError::TooFewImages { count: 5, min: 6, .. }), "{err:?}");
}

#[test]
fn wrong_dimensions_in_a_directory() {
    let (dir, _, _) = synthetic_dir("dims", 6, 1);
    dir.write("t10k-images-idx3-ubyte", &idx_images(1, 32, 32, &[0; 1024]));
    let err = Dataset::from_idx_dir(dir.path(), Binarize::Dynamic).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("t10k-images-idx3-ubyte") && msg.contains("32x32"), "{msg}");
}

#[test]
fn gz_is_preferred_when_both_exist() {
    let (dir, _, _) = synthetic_dir("prefer-gz", 6, 1);
    // A broken raw file beside the good .gz one is ignored.
    dir.write("train-images-idx3-ubyte", b"broken");
    Dataset::from_idx_dir(dir.path(), Binarize::Dynamic).unwrap();
}
