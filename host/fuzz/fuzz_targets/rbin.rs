//! Feeds arbitrary bytes to the dataset container decoder (gzip or raw payload): it must
//! return `Ok` or `Err`, never panic or abort. A successful decode must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rebar_host::data::Dataset;

fuzz_target!(|data: &[u8]| {
    if let Ok(ds) = Dataset::from_rbin_bytes(data, "fuzz") {
        let again = ds.to_rbin_gz().expect("a decoded container is static");
        assert_eq!(Dataset::from_rbin_bytes(&again, "again").unwrap(), ds);
    }
});
