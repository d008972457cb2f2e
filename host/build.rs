//! Records the git revision the program is built from (`REBAR_REVISION`), so that every run's
//! summary names the code that produced it. Outside a git checkout (a crate from a registry)
//! the revision is `unknown`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let revision = git(&["describe", "--always", "--dirty=-modified", "--abbrev=7", "--exclude", "*"])
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=REBAR_REVISION={revision}");
    // A new commit, a checkout or a staged change moves HEAD, a ref or the index; the sources
    // of the two crates decide "-modified".
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/index");
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
        println!("cargo:rerun-if-changed={common}/refs/heads");
        println!("cargo:rerun-if-changed={common}/packed-refs");
    }
    for dir in ["src", "../core/src", "build.rs"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
