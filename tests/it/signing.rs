//! Signed generations, against a real registry and an independent
//! implementation of cosign's formats (`cosign_reference.py`, Python's
//! `cryptography` and PyNaCl): Debian's skopeo and podman are built without
//! sigstore, so no packaged tool here checks cosign signatures.

use crate::support;
use support::snapshot::scopectl_snapshot;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::registry::{elsewhere, Registry};
use support::{output, repo, stderr, HomeState, TestContext};

const PASSWORD: &str = "correct horse battery staple";

/// Runs the Python reference implementation.
fn reference(args: &[&str]) -> Output {
    let script = repo().join("tests/it/cosign_reference.py");
    let out = Command::new("python3").arg(script).args(args).output();
    out.expect("these tests need python3 with `cryptography` and `pynacl` (.ci/run installs them)")
}

fn install_invert(context: &TestContext) {
    let out = output(
        context
            .scopectl()
            .arg("install")
            .arg(repo().join("fixtures/plugins/invert")),
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `scopectl key generate --output DIR/NAME` with the password in the
/// environment; the two paths.
fn generate_key(context: &TestContext, name: &str) -> (PathBuf, PathBuf) {
    let prefix = context.temp.path().join(name);
    let out = output(
        context
            .scopectl()
            .env("SCOPE_KEY_PASSWORD", PASSWORD)
            .args(["key", "generate", "--output"])
            .arg(&prefix),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    (prefix.with_extension("key"), prefix.with_extension("pub"))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_key_opens_as_cosigns_and_a_signed_push_verifies_both_ways() {
    let context = TestContext::new();
    let (private, public) = generate_key(&context, "ops");
    let mode = fs_err::metadata(&private).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    // The reference decrypts the private key with the password and finds
    // the public key beside it.
    let opened = reference(&["open-key", path(&private), PASSWORD, path(&public)]);
    assert!(opened.status.success(), "{}", stderr(&opened));

    install_invert(&context);
    let registry = Registry::start();
    let pushed = output(
        context
            .scopectl()
            .env("SCOPE_KEY_PASSWORD", PASSWORD)
            .args(["push", &registry.reference("scope/fleet:v1"), "--sign"])
            .arg(&private),
    );
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    // The reference verifies what scopectl pushed, at the tag cosign's
    // `triangulate` names.
    let verified = reference(&[
        "verify",
        &registry.address,
        "scope/fleet",
        "v1",
        path(&public),
    ]);
    assert!(verified.status.success(), "{}", stderr(&verified));

    // A fresh home imports it with the public key.
    let b = context.temp.path().join("b");
    let imported = output(
        elsewhere(&context, &b)
            .args(["import", &registry.reference("scope/fleet:v1"), "--verify"])
            .arg(&public),
    );
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(b.join("current").exists());

    // The reference signs a generation with a key of its own; scopectl
    // accepts that signature, and refuses it with the other key.
    let theirs = context.temp.path().join("theirs");
    let made = reference(&["new-key", path(&theirs)]);
    assert!(made.status.success(), "{}", stderr(&made));
    let install = output(
        context
            .scopectl()
            .arg("install")
            .arg(repo().join("fixtures/plugins/color-generator")),
    );
    assert!(install.status.success(), "{}", stderr(&install));
    let v2 = registry.reference("scope/fleet:v2");
    let unsigned = output(context.scopectl().args(["push", &v2]));
    assert!(unsigned.status.success(), "{}", stderr(&unsigned));
    let before = HomeState::of(&b);
    let refused = output(
        elsewhere(&context, &b)
            .args(["import", &v2, "--verify"])
            .arg(&public),
    );
    scopectl_snapshot!(&context, "import_of_an_unsigned_generation", &refused);
    assert_eq!(HomeState::of(&b), before, "nothing changed");

    let signed = reference(&[
        "sign",
        &registry.address,
        "scope/fleet",
        "v2",
        &format!("{}.pem", path(&theirs)),
    ]);
    assert!(signed.status.success(), "{}", stderr(&signed));
    let other_key = output(
        elsewhere(&context, &b)
            .args(["import", &v2, "--verify"])
            .arg(&public),
    );
    scopectl_snapshot!(&context, "import_signed_with_another_key", &other_key);
    assert_eq!(HomeState::of(&b), before, "nothing changed");
    let json = output(
        elsewhere(&context, &b)
            .args(["verify", &v2, "--json", "--key"])
            .arg(&public),
    );
    assert_eq!(json.status.code(), Some(1));
    let document: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(document["verified"], false, "{document}");
    assert_eq!(document["keys_tried"][0], path(&public), "{document}");

    let accepted = output(
        elsewhere(&context, &b)
            .args(["import", &v2, "--verify"])
            .arg(&public)
            .arg("--verify")
            .arg(theirs.with_extension("pub")),
    );
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    assert_ne!(HomeState::of(&b), before, "generation 2 is active");

    // A tampered signature, at the same tag, is refused.
    let tampered = reference(&[
        "sign",
        &registry.address,
        "scope/fleet",
        "v2",
        &format!("{}.pem", path(&theirs)),
        "--tamper",
    ]);
    assert!(tampered.status.success(), "{}", stderr(&tampered));
    let verify = output(
        elsewhere(&context, &b)
            .args(["verify", &v2, "--key"])
            .arg(theirs.with_extension("pub")),
    );
    scopectl_snapshot!(&context, "verify_a_tampered_signature", &verify);
}

#[test]
fn an_exported_layout_carries_its_signature() {
    let context = TestContext::new();
    let (private, public) = generate_key(&context, "ops");
    install_invert(&context);
    let dir = context.temp.path().join("layout");
    let exported = output(
        context
            .scopectl()
            .env("SCOPE_KEY_PASSWORD", PASSWORD)
            .args([
                "export",
                "--oci-layout",
                path(&dir),
                "--sign",
                path(&private),
            ]),
    );
    assert!(exported.status.success(), "{}", stderr(&exported));
    let checked = reference(&["verify-layout", path(&dir), path(&public)]);
    assert!(checked.status.success(), "{}", stderr(&checked));
    // Its provenance statement is signed too (DSSE), and names the host.
    let attested = reference(&["verify-attestation", path(&dir), path(&public)]);
    assert!(attested.status.success(), "{}", stderr(&attested));

    let tar = context.temp.path().join("gen.tar");
    let exported = output(
        context
            .scopectl()
            .env("SCOPE_KEY_PASSWORD", PASSWORD)
            .args(["export", "--output", path(&tar), "--sign", path(&private)]),
    );
    assert!(exported.status.success(), "{}", stderr(&exported));
    let verified = output(
        context
            .scopectl()
            .args(["verify", path(&tar), "--key", path(&public)]),
    );
    assert!(verified.status.success(), "{}", stderr(&verified));

    // The wrong password opens nothing and writes nothing.
    let wrong = output(
        context
            .scopectl()
            .env("SCOPE_KEY_PASSWORD", "wrong")
            .args(["export", "--output"])
            .arg(context.temp.path().join("other.tar"))
            .args(["--sign", path(&private)]),
    );
    scopectl_snapshot!(&context, "export_with_a_wrong_password", &wrong);
    assert!(!context.temp.path().join("other.tar").exists());

    // An unsigned export is refused by a key.
    let plain = context.temp.path().join("plain");
    let out = output(
        context
            .scopectl()
            .args(["export", "--oci-layout", path(&plain)]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let b = context.temp.path().join("b");
    let refused =
        output(elsewhere(&context, &b).args(["import", path(&plain), "--verify", path(&public)]));
    scopectl_snapshot!(&context, "import_of_an_unsigned_layout", &refused);
    assert!(!b.join("current").exists());

    // The home's policy requires a signature by its keys: no flag needed.
    fs_err::create_dir_all(&b).unwrap();
    fs_err::write(
        b.join("policy.toml"),
        "[imports]\nrequire-signature = true\nkeys = [\"../ops.pub\"]\n",
    )
    .unwrap();
    let refused = output(elsewhere(&context, &b).args(["import", path(&plain)]));
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(!b.join("current").exists());
    let verified = output(elsewhere(&context, &b).args(["verify", path(&tar)]));
    assert!(verified.status.success(), "{}", stderr(&verified));
    let signed = output(elsewhere(&context, &b).args(["import", path(&tar)]));
    assert!(signed.status.success(), "{}", stderr(&signed));
    assert!(
        stderr(&signed).contains("Verified sha256:"),
        "{}",
        stderr(&signed)
    );
}
