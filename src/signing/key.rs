//! Signing keys in cosign's formats, so that operators keep the keys and
//! verifiers they have: ECDSA P-256; the private key is PKCS#8 sealed with
//! a password (scrypt, then NaCl's secretbox, in the JSON envelope of
//! go-securesystemslib) under the PEM label `ENCRYPTED SIGSTORE PRIVATE
//! KEY`; the public key is a PKIX `PUBLIC KEY` PEM.
//!
//! ECDSA comes from `ring`, which the TLS stack already builds; the
//! envelope from RustCrypto's `scrypt` and `crypto_secretbox`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::error::Hinted;

const PRIVATE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// What cosign before 2.0 wrote; read, never written.
const OLD_PRIVATE_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
const PUBLIC_LABEL: &str = "PUBLIC KEY";
/// The PKIX `SubjectPublicKeyInfo` of a P-256 key up to its point:
/// id-ecPublicKey, prime256v1, a 66-byte bit string.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
// cosign's scrypt parameters; other ones are refused on reading, as
// cosign does, so a key file cannot make us spend unbounded memory.
const SCRYPT_N: u32 = 32768;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;

/// A private key, opened.
pub struct SigningKey {
    pair: EcdsaKeyPair,
}

/// A public key, and the file it came from (for messages).
#[derive(Clone)]
pub struct PublicKey {
    /// The uncompressed point.
    point: Vec<u8>,
    pub path: PathBuf,
}

/// A new key pair's two files' contents.
pub struct NewKeyPair {
    pub private_pem: String,
    pub public_pem: String,
}

/// Makes a key pair; the private half is sealed with `password`.
pub fn generate(password: &str) -> Result<NewKeyPair> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| anyhow::anyhow!("the system's random source failed"))?;
    let pair = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .map_err(|_| anyhow::anyhow!("ring rejected the key it made"))?;
    let envelope = seal(pkcs8.as_ref(), password, &rng)?;
    Ok(NewKeyPair {
        private_pem: pem(PRIVATE_LABEL, &envelope),
        public_pem: public_pem(pair.public_key().as_ref()),
    })
}

impl SigningKey {
    /// Opens the private key in `path` with `password`.
    pub fn open(path: &Path, password: &str) -> Result<SigningKey> {
        let text = fs_err::read_to_string(path)?;
        let envelope = pem_body(&text, &[PRIVATE_LABEL, OLD_PRIVATE_LABEL]).ok_or_else(|| {
            Hinted::new(
                format!("{} is not a cosign private key (no `{PRIVATE_LABEL}` PEM block)", path.display()),
                "give the `.key` file written by `scopectl key generate` or `cosign generate-key-pair`",
            )
        })?;
        let pkcs8 = unseal(&envelope, password).map_err(|e| {
            Hinted::new(
                format!("cannot open the private key {}: {e}", path.display()),
                "set SCOPE_KEY_PASSWORD to the password the key was made with",
            )
        })?;
        let rng = SystemRandom::new();
        let pair =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &rng)
                .map_err(|_| {
                    Hinted::new(
                        format!("{} holds a key that is not ECDSA P-256", path.display()),
                        "make one with `scopectl key generate` (cosign's keys are P-256 too)",
                    )
                })?;
        Ok(SigningKey { pair })
    }

    /// An ASN.1 DER ECDSA signature of SHA-256(`message`).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let signature = self
            .pair
            .sign(&SystemRandom::new(), message)
            .map_err(|_| anyhow::anyhow!("signing failed"))?;
        Ok(signature.as_ref().to_vec())
    }
}

impl PublicKey {
    /// Reads a `PUBLIC KEY` PEM.
    pub fn read(path: &Path) -> Result<PublicKey> {
        let text = fs_err::read_to_string(path)?;
        let point = pem_body(&text, &[PUBLIC_LABEL])
            .and_then(|der| der.strip_prefix(&P256_SPKI_PREFIX[..]).map(<[u8]>::to_vec))
            .filter(|point| point.len() == 65)
            .ok_or_else(|| {
                Hinted::new(
                    format!("{} is not an ECDSA P-256 public key in PEM", path.display()),
                    "give the `.pub` file written by `scopectl key generate` or `cosign generate-key-pair`",
                )
            })?;
        Ok(PublicKey {
            point,
            path: path.to_path_buf(),
        })
    }

    /// Whether `signature` (ASN.1 DER) signs `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &self.point)
            .verify(message, signature)
            .is_ok()
    }
}

fn public_pem(point: &[u8]) -> String {
    pem(PUBLIC_LABEL, &[&P256_SPKI_PREFIX[..], point].concat())
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    #[serde(with = "base64_bytes")]
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    #[serde(with = "base64_bytes")]
    salt: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u32,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    #[serde(with = "base64_bytes")]
    nonce: Vec<u8>,
}

mod base64_bytes {
    use base64::Engine as _;

    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        super::BASE64.decode(text).map_err(serde::de::Error::custom)
    }
}

fn derive(password: &str, salt: &[u8]) -> Result<[u8; 32]> {
    let params = scrypt::Params::new(SCRYPT_N.ilog2() as u8, SCRYPT_R, SCRYPT_P, 32)
        .map_err(|_| anyhow::anyhow!("cosign's scrypt parameters are refused"))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password.as_bytes(), salt, &params, &mut key)
        .map_err(|_| anyhow::anyhow!("scrypt refused a 32-byte key"))?;
    Ok(key)
}

fn seal(plaintext: &[u8], password: &str, rng: &SystemRandom) -> Result<Vec<u8>> {
    use crypto_secretbox::aead::{Aead as _, KeyInit as _};
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    rng.fill(&mut salt)
        .and_then(|()| rng.fill(&mut nonce))
        .map_err(|_| anyhow::anyhow!("the system's random source failed"))?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(&derive(password, &salt)?.into());
    let ciphertext = cipher
        .encrypt(&nonce.into(), plaintext)
        .map_err(|_| anyhow::anyhow!("sealing the key failed"))?;
    let envelope = Envelope {
        kdf: Kdf {
            name: "scrypt".into(),
            params: ScryptParams {
                n: SCRYPT_N,
                r: SCRYPT_R,
                p: SCRYPT_P,
            },
            salt: salt.to_vec(),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: nonce.to_vec(),
        },
        ciphertext,
    };
    Ok(serde_json::to_vec(&envelope)?)
}

fn unseal(envelope: &[u8], password: &str) -> Result<Vec<u8>> {
    use crypto_secretbox::aead::{Aead as _, KeyInit as _};
    let envelope: Envelope =
        serde_json::from_slice(envelope).context("its sealed envelope is not cosign's JSON")?;
    if envelope.kdf.name != "scrypt" || envelope.cipher.name != "nacl/secretbox" {
        bail!(
            "it is sealed with {} and {}; only scrypt and nacl/secretbox are read",
            envelope.kdf.name,
            envelope.cipher.name
        );
    }
    let ScryptParams { n, r, p } = envelope.kdf.params;
    if (n, r, p) != (SCRYPT_N, SCRYPT_R, SCRYPT_P) {
        bail!("its scrypt parameters (N={n}, r={r}, p={p}) are not cosign's");
    }
    let nonce: [u8; 24] = envelope
        .cipher
        .nonce
        .as_slice()
        .try_into()
        .context("its nonce is not 24 bytes")?;
    let cipher =
        crypto_secretbox::XSalsa20Poly1305::new(&derive(password, &envelope.kdf.salt)?.into());
    cipher
        .decrypt(&nonce.into(), envelope.ciphertext.as_slice())
        .map_err(|_| anyhow::anyhow!("the password is wrong (or the file was changed)"))
}

/// `bytes` as a PEM block of `label`, 64 columns.
fn pem(label: &str, bytes: &[u8]) -> String {
    let encoded = BASE64.encode(bytes);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// The bytes of the first PEM block with one of `labels`.
fn pem_body(text: &str, labels: &[&str]) -> Option<Vec<u8>> {
    labels.iter().find_map(|label| {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        let start = text.find(&begin)? + begin.len();
        let stop = start + text[start..].find(&end)?;
        let body: String = text[start..stop]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        BASE64.decode(body).ok()
    })
}

/// The password that opens (or seals) a key: `SCOPE_KEY_PASSWORD`, else
/// asked on the terminal (twice when `confirm`).
pub fn password(given: Option<&str>, what: &str, confirm: bool) -> Result<String> {
    if let Some(password) = given {
        return Ok(password.to_owned());
    }
    let Some(first) = crate::prompt::hidden(&format!("Password for {what}: "))? else {
        bail!(Hinted::new(
            format!("no password for {what}: SCOPE_KEY_PASSWORD is not set and there is no terminal to ask on"),
            "set SCOPE_KEY_PASSWORD (in CI, from the job's secrets)",
        ));
    };
    if confirm {
        let again = crate::prompt::hidden("Again: ")?.unwrap_or_default();
        if again != first {
            bail!(Hinted::new(
                "the two passwords differ",
                "run the command again"
            ));
        }
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_with_its_password_only() {
        let dir = tempfile::tempdir().unwrap();
        let pair = generate("correct horse").unwrap();
        assert!(pair
            .private_pem
            .starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let private = dir.path().join("k.key");
        let public = dir.path().join("k.pub");
        fs_err::write(&private, &pair.private_pem).unwrap();
        fs_err::write(&public, &pair.public_pem).unwrap();
        let key = SigningKey::open(&private, "correct horse").unwrap();
        let signature = key.sign(b"payload").unwrap();
        let public = PublicKey::read(&public).unwrap();
        assert!(public.verifies(b"payload", &signature));
        assert!(!public.verifies(b"another payload", &signature));
        let wrong = SigningKey::open(&private, "wrong").err().unwrap();
        assert!(wrong.to_string().contains("password is wrong"), "{wrong}");
    }
}
