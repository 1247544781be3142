//! The crypto floor of one TLS probe, for `bench/run`: what a client cannot avoid per handshake
//! with the crypto reach uses (ring), and nothing else. One iteration is one X25519 exchange
//! (an ephemeral key pair and the agreement with the server's share) and one signature check
//! per signature the client must verify: the handshake signature (CertificateVerify) always,
//! plus, with `--chain`, the two chain signatures (leaf by intermediate, intermediate by root)
//! that a run verifies only once per chain.
//!
//! Usage: `floor [ec|rsa] [ITERATIONS] [--chain]`. Prints one line of figures (user+sys CPU per
//! iteration); `bench/run` also counts its instructions under callgrind. Built as a Cargo
//! example so it shares reach's ring and build settings: `cargo build --release --example floor`.

use std::time::Duration;

use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use ring::rand::SystemRandom;
use ring::signature::{
    self, ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
    RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, RsaKeyPair,
};

/// What a TLS 1.3 CertificateVerify signs: 64 spaces, the context string, a zero, a hash.
fn signed_content() -> Vec<u8> {
    let mut m = vec![0x20; 64];
    m.extend_from_slice(b"TLS 1.3, server CertificateVerify\0");
    m.extend_from_slice(&[0xab; 32]);
    m
}

/// User + system CPU time of this process so far (getrusage).
#[cfg(unix)]
fn cpu() -> Duration {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .expect("getrusage");
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(usage.user_time()) + tv(usage.system_time())
}

/// bench/run is a Linux script; elsewhere the floor is only built (the Windows CI builds every
/// target), and it measures wall time, which is what one thread of pure crypto spends anyway.
#[cfg(not(unix))]
fn cpu() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// A signature check the loop repeats: the public key, the message and its signature.
struct Check {
    alg: &'static dyn signature::VerificationAlgorithm,
    public: Vec<u8>,
    message: Vec<u8>,
    signature: Vec<u8>,
}

impl Check {
    fn verify(&self) {
        signature::UnparsedPublicKey::new(self.alg, &self.public)
            .verify(&self.message, &self.signature)
            .expect("the signature verifies");
    }
}

fn ec_check(rng: &SystemRandom, message: &[u8]) -> Check {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, rng).expect("key");
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), rng)
        .expect("key");
    Check {
        alg: &ECDSA_P256_SHA256_ASN1,
        public: key.public_key().as_ref().to_vec(),
        message: message.to_vec(),
        signature: key.sign(rng, message).expect("sign").as_ref().to_vec(),
    }
}

/// RSA-2048: ring cannot generate RSA keys, so the key comes from `openssl genpkey` (PKCS#8
/// DER) in the file named by `FLOOR_RSA_KEY`, which bench/run writes.
fn rsa_check(rng: &SystemRandom, message: &[u8], pss: bool) -> Check {
    let path = std::env::var("FLOOR_RSA_KEY").expect("FLOOR_RSA_KEY names an RSA PKCS#8 DER key");
    let der = std::fs::read(&path).expect("read the RSA key");
    let key = RsaKeyPair::from_pkcs8(&der).expect("an RSA PKCS#8 key");
    let mut sig = vec![0; key.public().modulus_len()];
    let (sign_alg, alg): (&'static dyn signature::RsaEncoding, _) = if pss {
        (&signature::RSA_PSS_SHA256, &RSA_PSS_2048_8192_SHA256)
    } else {
        (&signature::RSA_PKCS1_SHA256, &RSA_PKCS1_2048_8192_SHA256)
    };
    key.sign(sign_alg, rng, message, &mut sig).expect("sign");
    Check {
        alg,
        public: key.public().as_ref().to_vec(),
        message: message.to_vec(),
        signature: sig,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rsa = args.iter().any(|a| a == "rsa");
    let chain = args.iter().any(|a| a == "--chain");
    let iterations: u32 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(10_000);
    let rng = SystemRandom::new();
    let message = signed_content();
    // The handshake signature (TLS 1.3 signs with RSA-PSS), then the chain's two signatures
    // (certificates are signed with PKCS#1 v1.5 for RSA).
    let mut checks = vec![if rsa {
        rsa_check(&rng, &message, true)
    } else {
        ec_check(&rng, &message)
    }];
    if chain {
        for _ in 0..2 {
            checks.push(if rsa {
                rsa_check(&rng, &message, false)
            } else {
                ec_check(&rng, &message)
            });
        }
    }
    // The server's share, made once: the client's work is its own key pair and the agreement.
    let server = EphemeralPrivateKey::generate(&X25519, &rng).expect("x25519");
    let server_public = server
        .compute_public_key()
        .expect("x25519")
        .as_ref()
        .to_vec();

    let start = cpu();
    for _ in 0..iterations {
        let mine = EphemeralPrivateKey::generate(&X25519, &rng).expect("x25519");
        let public = mine.compute_public_key().expect("x25519");
        std::hint::black_box(public.as_ref());
        agreement::agree_ephemeral(
            mine,
            &UnparsedPublicKey::new(&X25519, &server_public),
            |k| std::hint::black_box(k[0]),
        )
        .expect("agreement");
        for check in &checks {
            check.verify();
        }
    }
    let spent = cpu() - start;
    let per = spent.as_secs_f64() * 1e6 / f64::from(iterations.max(1));
    println!(
        "floor: {} iterations of 1 X25519 exchange + {} {} verification(s): {per:.1} µs CPU each",
        iterations,
        checks.len(),
        if rsa { "RSA-2048" } else { "ECDSA P-256" },
    );
}
