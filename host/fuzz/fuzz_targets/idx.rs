//! Feeds arbitrary bytes to the IDX parsers (raw, and gzip when the input starts with
//! `1f 8b`): they must return `Ok` or `Err`, never panic or abort.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rebar_host::data::IMAGE_PIXELS;
use rebar_host::data::idx::{parse_images, parse_labels};

fuzz_target!(|data: &[u8]| {
    if let Ok(images) = parse_images(data, "fuzz") {
        assert_eq!(images.pixels().len(), images.len() * IMAGE_PIXELS);
    }
    let _ = parse_labels(data, "fuzz");
});
