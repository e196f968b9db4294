//! Finds the system's libsrtp2 and generates bindings from its installed
//! header, so the bindings always describe the library that is linked.
//!
//! Natively (and for a target whose libsrtp2-dev is installed) pkg-config
//! finds both. Cross-compiling on Debian is the other case: libsrtp2-dev is
//! not multiarch-installable (the arm64 package would replace the host's),
//! so cross/setup.sh installs only the target's runtime library
//! (libsrtp2-1:<arch>, multiarch) beside the host's -dev package. The header
//! is architecture-independent C, so the host's serves, and the library is
//! linked by its soname from the target's multiarch directory.

use std::env;
use std::path::{Path, PathBuf};

/// The library's soname, what a binary built against libsrtp2 2.x records.
const SONAME: &str = "libsrtp2.so.1";

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-env-changed=PEERCALL_SRTP_LIB_DIR");
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let host = env::var("HOST").expect("cargo sets HOST");

    let mut clang_args = Vec::new();
    match pkg_config::Config::new()
        .atleast_version("2.3")
        .probe("libsrtp2")
    {
        Ok(lib) => {
            for dir in lib.include_paths {
                // The bindings describe this header, so they are remade when
                // it changes.
                let header = dir.join("srtp2/srtp.h");
                if header.exists() {
                    println!("cargo:rerun-if-changed={}", header.display());
                }
                clang_args.push(format!("-I{}", dir.display()));
            }
            // A static libsrtp2 (the ARMv6 sysroot's) is part of every binary
            // linked with it, and cargo does not watch it: rerunning this when
            // it is rebuilt is what relinks those binaries.
            for dir in &lib.link_paths {
                let archive = dir.join("libsrtp2.a");
                if archive.exists() {
                    println!("cargo:rerun-if-changed={}", archive.display());
                }
            }
        }
        Err(e) if target != host => {
            let dir = match env::var_os("PEERCALL_SRTP_LIB_DIR") {
                Some(d) => PathBuf::from(d),
                None => PathBuf::from(format!("/usr/lib/{}", multiarch(&target))),
            };
            if !dir.join(SONAME).exists() {
                panic!(
                    "libsrtp2 for {target} not found ({e}), nor {}: run cross/setup.sh \
                     (it installs the target's libsrtp2-1 through multiarch), or set \
                     PEERCALL_SRTP_LIB_DIR to the directory holding the target's {SONAME}",
                    dir.join(SONAME).display()
                );
            }
            if !Path::new("/usr/include/srtp2/srtp.h").exists() {
                panic!("/usr/include/srtp2/srtp.h not found: install the host's libsrtp2-dev");
            }
            println!("cargo:rerun-if-changed=/usr/include/srtp2/srtp.h");
            println!("cargo:rustc-link-search=native={}", dir.display());
            println!("cargo:rustc-link-lib=dylib:+verbatim={SONAME}");
            // After the target's own headers (BINDGEN_EXTRA_CLANG_ARGS_<target>).
            clang_args.push("-idirafter/usr/include".into());
        }
        Err(e) => panic!(
            "libsrtp2 not found through pkg-config ({e}): install libsrtp2-dev \
             (scripts/deps.sh does)"
        ),
    }

    let bindings = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_args(&clang_args)
        .allowlist_function(
            "srtp_(init|create|dealloc|protect|unprotect|protect_rtcp|unprotect_rtcp)",
        )
        .allowlist_function("srtp_crypto_policy_set_(rtp_default|rtcp_default|aes_gcm_128_16_auth)")
        .allowlist_type("srtp_(policy_t|err_status_t|ssrc_type_t)")
        .allowlist_var("SRTP_MAX_TRAILER_LEN")
        .default_enum_style(bindgen::EnumVariation::ModuleConsts)
        .generate()
        .expect("bindgen could not read srtp2/srtp.h");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("writing the bindings");
}

/// Debian's multiarch directory name for a Rust target triple.
fn multiarch(target: &str) -> String {
    match target {
        t if t.starts_with("armv7") && t.ends_with("gnueabihf") => "arm-linux-gnueabihf".into(),
        t => {
            // aarch64-unknown-linux-gnu -> aarch64-linux-gnu, and the like.
            let mut parts = t.split('-');
            let arch = parts.next().unwrap_or(t);
            let rest: Vec<&str> = parts.skip(1).collect();
            format!("{arch}-{}", rest.join("-"))
        }
    }
}
