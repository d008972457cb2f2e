//! Cross-crate tests of rebar (see tests/).
