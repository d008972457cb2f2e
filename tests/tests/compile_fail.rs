//! Shapes that do not match do not compile: the expected compiler errors are in
//! `tests/compile-fail/*.stderr` (regenerate with `TRYBUILD=overwrite` after a compiler upgrade).

#[test]
fn mismatched_shapes_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("compile-fail/*.rs");
}
