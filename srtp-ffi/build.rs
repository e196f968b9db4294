//! Builds libsrtp2 2.5.0 from the copy in vendor/libsrtp/ with OpenSSL's libcrypto
//! as its cipher backend, and generates bindings from that copy's header, so
//! the bindings always describe the library that is linked.
//!
//! Why not the distribution's libsrtp2: Debian (12 and 13, so Raspberry Pi
//! OS too) builds it on NSS, whose PKCS#11 layer sets up a context for every
//! packet, which costs more than the cipher itself; on libcrypto a packet
//! costs about 40% less (docs/architecture.md, "Media encryption").
//! libcrypto is on every Debian system already (libssl3), and picks its ARMv8
//! crypto, NEON or C code at run time.
//!
//! `PEERCALL_SRTP_SYSTEM=1` (or `PEERCALL_SRTP_SYSTEM_<target triple with
//! underscores>=1`) links a libsrtp2 that pkg-config finds instead: the ARMv6
//! sysroot builds its own on mbedtls (cross/armv6-sysroot.sh), as a static
//! musl build cannot take Debian's libcrypto.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// The copy of libsrtp2's source (vendor/libsrtp/README.md says what it holds).
const VENDORED: &str = "vendor/libsrtp";

/// libsrtp2's C sources built with the OpenSSL backend: the list of its
/// CMakeLists.txt for ENABLE_OPENSSL.
const SOURCES: &[&str] = &[
    "srtp/srtp.c",
    "crypto/cipher/cipher.c",
    "crypto/cipher/cipher_test_cases.c",
    "crypto/cipher/null_cipher.c",
    "crypto/cipher/aes_icm_ossl.c",
    "crypto/cipher/aes_gcm_ossl.c",
    "crypto/hash/auth.c",
    "crypto/hash/auth_test_cases.c",
    "crypto/hash/null_auth.c",
    "crypto/hash/hmac_ossl.c",
    "crypto/kernel/alloc.c",
    "crypto/kernel/crypto_kernel.c",
    "crypto/kernel/err.c",
    "crypto/kernel/key.c",
    "crypto/math/datatypes.c",
    "crypto/replay/rdb.c",
    "crypto/replay/rdbx.c",
];

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed={VENDORED}");
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let system_var = format!("PEERCALL_SRTP_SYSTEM_{}", target.replace('-', "_"));
    println!("cargo:rerun-if-env-changed=PEERCALL_SRTP_SYSTEM");
    println!("cargo:rerun-if-env-changed={system_var}");
    let system = [system_var.as_str(), "PEERCALL_SRTP_SYSTEM"]
        .iter()
        .any(|v| env::var(v).is_ok_and(|s| s == "1"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    let clang_args = if system {
        system_library()
    } else {
        vendored_library(&out)
    };

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
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("writing the bindings");
}

/// Compiles the copy in vendor/libsrtp/ against the target's libcrypto and returns
/// the clang arguments that find its header as <srtp2/srtp.h>.
fn vendored_library(out: &Path) -> Vec<String> {
    // The probe only finds libcrypto; its link flags are printed after the
    // archive below. Printed by the probe they come before the archive, and
    // alone there they left the unoptimised aarch64 test binaries unlinked.
    let crypto = pkg_config::Config::new()
        .atleast_version("1.1.0")
        .cargo_metadata(false)
        .env_metadata(true)
        .probe("libcrypto")
        .unwrap_or_else(|e| {
            panic!(
                "OpenSSL's libcrypto not found through pkg-config ({e}): install libssl-dev \
                 (scripts/deps.sh does; for a cross target, cross/setup.sh)"
            )
        });
    let src = Path::new(VENDORED);

    // What libsrtp's CMake build writes into config.h for a Linux target with
    // the OpenSSL backend; the target's own facts come from cargo.
    let endian = env::var("CARGO_CFG_TARGET_ENDIAN").expect("cargo sets the target's endianness");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets the target's arch");
    let long_bits: u32 = env::var("CARGO_CFG_TARGET_POINTER_WIDTH")
        .expect("cargo sets the target's pointer width")
        .parse()
        .expect("a pointer width is a number");
    let mut config = String::from(
        "/* Written by srtp-ffi/build.rs: what libsrtp's CMake build finds on Linux. */\n\
         #define PACKAGE_VERSION \"2.5.0\"\n\
         #define PACKAGE_STRING \"libsrtp2 2.5.0\"\n\
         #define OPENSSL 1\n\
         #define GCM 1\n\
         #define CPU_CISC 1\n\
         #define HAVE_ARPA_INET_H 1\n\
         #define HAVE_BYTESWAP_H 1\n\
         #define HAVE_INTTYPES_H 1\n\
         #define HAVE_NETINET_IN_H 1\n\
         #define HAVE_STDINT_H 1\n\
         #define HAVE_STDLIB_H 1\n\
         #define HAVE_SYS_SOCKET_H 1\n\
         #define HAVE_SYS_TYPES_H 1\n\
         #define HAVE_UNISTD_H 1\n\
         #define HAVE_INET_ATON 1\n\
         #define HAVE_INET_PTON 1\n\
         #define HAVE_SIGACTION 1\n\
         #define HAVE_USLEEP 1\n\
         #define HAVE_UINT8_T 1\n\
         #define HAVE_UINT16_T 1\n\
         #define HAVE_UINT32_T 1\n\
         #define HAVE_UINT64_T 1\n\
         #define HAVE_INT32_T 1\n\
         #define SIZEOF_UNSIGNED_LONG_LONG 8\n\
         #define HAVE_INLINE 1\n",
    );
    config.push_str(&format!("#define SIZEOF_UNSIGNED_LONG {}\n", long_bits / 8));
    if endian == "big" {
        config.push_str("#define WORDS_BIGENDIAN 1\n");
    }
    if arch == "x86" || arch == "x86_64" {
        config.push_str("#define HAVE_X86 1\n");
    }
    let config_dir = out.join("config");
    fs::create_dir_all(&config_dir).expect("creating OUT_DIR/config");
    fs::write(config_dir.join("config.h"), config).expect("writing config.h");

    let mut build = cc::Build::new();
    build
        .define("HAVE_CONFIG_H", None)
        .include(&config_dir)
        .include(src.join("include"))
        .include(src.join("crypto/include"))
        .includes(&crypto.include_paths)
        // libsrtp's own code, not ours to fix: its warnings are noise here.
        .warnings(false);
    for file in SOURCES {
        build.file(src.join(file));
    }
    build.compile("srtp2");
    // cc links the archive; libcrypto must come after it on the linker's line.
    for dir in &crypto.link_paths {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
    for lib in &crypto.libs {
        println!("cargo:rustc-link-lib={lib}");
    }

    // The bindings read the header as the installed library names it.
    let headers = out.join("include");
    fs::create_dir_all(headers.join("srtp2")).expect("creating OUT_DIR/include/srtp2");
    fs::copy(src.join("include/srtp.h"), headers.join("srtp2/srtp.h")).expect("copying srtp.h");
    let mut args = vec![format!("-I{}", headers.display())];
    args.extend(
        crypto
            .include_paths
            .iter()
            .map(|d| format!("-I{}", d.display())),
    );
    args
}

/// Finds a libsrtp2 2.3 or later through pkg-config and returns the clang
/// arguments that find its header.
fn system_library() -> Vec<String> {
    let lib = pkg_config::Config::new()
        .atleast_version("2.3")
        .probe("libsrtp2")
        .unwrap_or_else(|e| {
            panic!(
                "PEERCALL_SRTP_SYSTEM is set but libsrtp2 was not found through pkg-config ({e}): \
                 for ARMv6, cross/armv6-sysroot.sh builds it"
            )
        });
    let mut args = Vec::new();
    for dir in lib.include_paths {
        // The bindings describe this header, so they are remade when it
        // changes.
        let header = dir.join("srtp2/srtp.h");
        if header.exists() {
            println!("cargo:rerun-if-changed={}", header.display());
        }
        args.push(format!("-I{}", dir.display()));
    }
    // A static libsrtp2 (the ARMv6 sysroot's) is part of every binary linked
    // with it, and cargo does not watch it: rerunning this when it is rebuilt
    // is what relinks those binaries.
    for dir in &lib.link_paths {
        let archive = dir.join("libsrtp2.a");
        if archive.exists() {
            println!("cargo:rerun-if-changed={}", archive.display());
        }
    }
    args
}
