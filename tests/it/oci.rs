//! Generations as OCI artifacts, against a real registry (Debian's
//! `docker-registry`, the CNCF distribution registry) on loopback and a
//! client nobody here wrote (`skopeo`).

use crate::support;
use support::snapshot::scopectl_snapshot;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::registry::{elsewhere, Registry};
use support::{output, stderr, stdout, HomeState, TestContext};

fn install(context: &TestContext, plugins: &[&str]) {
    let mut command = context.scopectl();
    command.arg("install");
    for plugin in plugins {
        command.arg(support::repo().join(plugin));
    }
    let out = output(&mut command);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_pushed_generation_imports_on_a_fresh_home_without_a_toolchain() {
    let context = TestContext::new();
    install(
        &context,
        &[
            "fixtures/plugins/invert",
            "fixtures/plugins/color-generator",
        ],
    );
    let registry = Registry::start();
    let reference = registry.reference("scope/fleet:v1");
    let pushed = output(context.scopectl().args(["push", &reference]));
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let digest = stderr(&pushed).split('@').nth(1).unwrap().trim().to_owned();
    assert!(digest.starts_with("sha256:"), "{digest}");

    let b = context.temp.path().join("b");
    let imported = output(elsewhere(&context, &b).args(["import", &reference]));
    assert!(imported.status.success(), "{}", stderr(&imported));
    let a = context.home();
    for file in ["bin/scope-host", "resolved.lock", "plugins.toml"] {
        assert_eq!(
            fs_err::read(a.join(file)).unwrap(),
            fs_err::read(b.join(file)).unwrap(),
            "{file} is the same"
        );
    }
    let pipelines = |home: &Path| {
        stdout(&output(
            elsewhere(&context, home).args(["pipelines", "--json"]),
        ))
    };
    assert_eq!(pipelines(&a), pipelines(&b));
    let history = stdout(&output(elsewhere(&context, &b).arg("history")));
    assert!(
        history.contains(&format!("of {reference} ({digest})")),
        "{history}"
    );
    // A server imports it as a job.
    let server_side = TestContext::new();
    let served = support::served::Served::start(&server_side, &[], &[]);
    let (status, answer) = served.post("/api/v1/import", serde_json::json!({"ref": reference}));
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{answer}");
    let job = served.job(&answer["job"]);
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"]["digest"], digest.as_str(), "{job}");
    let (_, history) = served.get("/api/v1/history");
    assert!(history.to_string().contains(&digest), "{history}");
    let _ = served.stop();

    let again = output(elsewhere(&context, &b).args(["import", &reference]));
    scopectl_snapshot!(&context, "import_of_the_active_generation", &again);

    // A client nobody here wrote reads it, and copies it to a layout that
    // import takes.
    let docker = format!("docker://{}/scope/fleet:v1", registry.address);
    let raw =
        output(Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", &docker]));
    assert!(raw.status.success(), "{}", stderr(&raw));
    let manifest: Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.scope.generation.v1+json"
    );
    let titles: Vec<&str> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l["annotations"]["org.opencontainers.image.title"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        titles,
        [
            "scope-host",
            "plugins.toml",
            "resolved.lock",
            "provenance.json",
            "sbom.cdx.json",
            "provenance.intoto.json"
        ]
    );
    let copied = context.temp.path().join("copied");
    let copy = output(Command::new("skopeo").args([
        "copy",
        "--src-tls-verify=false",
        &docker,
        &format!("oci:{}:v1", copied.display()),
    ]));
    assert!(copy.status.success(), "{}", stderr(&copy));
    let c = context.temp.path().join("c");
    let from_skopeo = output(elsewhere(&context, &c).arg("import").arg(&copied));
    assert!(from_skopeo.status.success(), "{}", stderr(&from_skopeo));
    assert!(
        stderr(&from_skopeo).contains(&digest),
        "{}",
        stderr(&from_skopeo)
    );
}

/// Rewrites the provenance of the generation in layout `dir`, and every
/// digest that names it, as a forger with a registry would.
fn forge(dir: &Path, edit: impl Fn(&mut Value), manifest_edit: impl Fn(&mut Value)) {
    let blob = |digest: &str| {
        dir.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let index_path = dir.join("index.json");
    let mut index: Value = serde_json::from_slice(&fs_err::read(&index_path).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    let mut manifest: Value =
        serde_json::from_slice(&fs_err::read(blob(&digest)).unwrap()).unwrap();
    for layer in manifest["layers"].as_array_mut().unwrap() {
        if layer["mediaType"] == "application/vnd.scope.provenance.v1+json" {
            let old = layer["digest"].as_str().unwrap().to_owned();
            let mut provenance: Value =
                serde_json::from_slice(&fs_err::read(blob(&old)).unwrap()).unwrap();
            edit(&mut provenance);
            let bytes = serde_json::to_vec(&provenance).unwrap();
            let new = scopectl::oci::digest(&bytes);
            fs_err::write(blob(&new), &bytes).unwrap();
            layer["digest"] = new.into();
            layer["size"] = bytes.len().into();
        }
    }
    manifest_edit(&mut manifest);
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let new = scopectl::oci::digest(&bytes);
    fs_err::write(blob(&new), &bytes).unwrap();
    index["manifests"][0]["digest"] = new.into();
    index["manifests"][0]["size"] = bytes.len().into();
    fs_err::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
}

fn exported(context: &TestContext, name: &str) -> PathBuf {
    let dir = context.temp.path().join(name);
    let out = output(
        context
            .scopectl()
            .args(["export", "--oci-layout"])
            .arg(&dir),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    dir
}

#[test]
fn refusals_say_what_is_wrong_and_change_nothing() {
    let context = TestContext::new();
    install(&context, &["fixtures/plugins/invert"]);
    let b = context.temp.path().join("b");
    // B has a generation of its own (from a tar), which must stay.
    let tar = context.temp.path().join("gen.tar");
    let out = output(context.scopectl().args(["export", "--output"]).arg(&tar));
    assert!(out.status.success(), "{}", stderr(&out));
    let first = output(elsewhere(&context, &b).arg("import").arg(&tar));
    assert!(first.status.success(), "{}", stderr(&first));
    let before = HomeState::of(&b);

    let refused = |source: &Path, name: &str| {
        let out = output(elsewhere(&context, &b).arg("import").arg(source));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        scopectl_snapshot!(&context, format!("import_refused_{name}").as_str(), &out);
        assert_eq!(HomeState::of(&b), before, "nothing changed after: {name}");
    };

    let tampered = exported(&context, "tampered");
    let host_blob = fs_err::read_dir(tampered.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| fs_err::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = fs_err::read(&host_blob).unwrap();
    bytes[1000] ^= 0xff;
    fs_err::write(&host_blob, bytes).unwrap();
    refused(&tampered, "tampered");

    let image = exported(&context, "image");
    forge(&image, |_| {}, |m| m["artifactType"] = Value::Null);
    refused(&image, "image");

    let other_target = exported(&context, "other-target");
    forge(
        &other_target,
        |p| p["target"] = "riscv64gc-unknown-linux-gnu".into(),
        |_| {},
    );
    refused(&other_target, "other_target");

    let newer_glibc = exported(&context, "newer-glibc");
    forge(&newer_glibc, |p| p["glibc"] = "9.99".into(), |_| {});
    refused(&newer_glibc, "newer_glibc");

    refused(&context.temp.path().join("nowhere"), "nowhere");
    let unreachable =
        output(elsewhere(&context, &b).args(["import", "oci://127.0.0.1:1/scope/fleet:v1"]));
    scopectl_snapshot!(&context, "import_refused_unreachable", &unreachable);
    assert_eq!(HomeState::of(&b), before);

    let registry = Registry::start();
    let pushed = output(
        context
            .scopectl()
            .args(["push", &registry.reference("scope/fleet:v1")]),
    );
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let missing =
        output(elsewhere(&context, &b).args(["import", &registry.reference("scope/fleet:v99")]));
    scopectl_snapshot!(&context, "import_refused_missing_tag", &missing);
    assert_eq!(HomeState::of(&b), before);
    // Without the scheme, the reference is not taken for a file.
    let bare = registry.reference("scope/fleet:v1");
    let bare = bare.trim_start_matches("oci://");
    let schemeless = output(elsewhere(&context, &b).args(["import", bare]));
    scopectl_snapshot!(&context, "import_refused_schemeless", &schemeless);
    assert_eq!(HomeState::of(&b), before);

    // Interrupted after staging: the next command finds the home as it was.
    install(&context, &["fixtures/plugins/color-generator"]);
    let fresh = exported(&context, "fresh");
    let crashed = output(
        elsewhere(&context, &b)
            .env("SCOPE_FAILPOINT", "after-stage")
            .arg("import")
            .arg(&fresh),
    );
    assert!(!crashed.status.success());
    assert_eq!(HomeState::of(&b), before, "the home is as it was");
    // What the interrupted import staged is a leftover that doctor removes.
    let repair = output(
        elsewhere(&context, &b)
            .env_remove("CARGO")
            .args(["doctor", "--repair"]),
    );
    assert!(repair.status.success(), "{}", stdout(&repair));
    let doctor = output(elsewhere(&context, &b).env_remove("CARGO").arg("doctor"));
    assert!(doctor.status.success(), "{}", stdout(&doctor));
    assert_eq!(HomeState::of(&b), before);
}

#[test]
fn credentials_come_from_dockers_config_and_a_wrong_one_is_refused() {
    use base64::Engine as _;
    let context = TestContext::new();
    install(&context, &["fixtures/plugins/invert"]);
    let registry = Registry::with_password();
    let reference = registry.reference("scope/fleet:v1");
    let docker = context.temp.path().join("docker");
    fs_err::create_dir_all(&docker).unwrap();
    let login = |password: &str| {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("ci:{password}"));
        let config = serde_json::json!({"auths": {registry.address.clone(): {"auth": auth}}});
        fs_err::write(docker.join("config.json"), config.to_string()).unwrap();
    };
    let push = || {
        output(
            context
                .scopectl()
                .env("DOCKER_CONFIG", &docker)
                .args(["push", &reference]),
        )
    };

    let anonymous = output(context.scopectl().args(["push", &reference]));
    assert_eq!(anonymous.status.code(), Some(1));
    login("wrong");
    let wrong = push();
    scopectl_snapshot!(&context, "push_with_a_wrong_password", &wrong);
    login("secret");
    let right = push();
    assert!(right.status.success(), "{}", stderr(&right));
    let b = context.temp.path().join("b");
    let imported = output(
        elsewhere(&context, &b)
            .env("DOCKER_CONFIG", &docker)
            .args(["import", &reference]),
    );
    assert!(imported.status.success(), "{}", stderr(&imported));
}
