//! Records the target triple, so that `reach --version` can say which build it is.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown target".to_string());
    println!("cargo:rustc-env=REACH_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
