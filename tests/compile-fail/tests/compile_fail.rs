//! Shapes that do not match do not compile: the expected compiler errors are in
//! `cases/*.stderr` (regenerate with `TRYBUILD=overwrite` after a compiler upgrade).

#[test]
fn mismatched_shapes_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("cases/*.rs");
}
