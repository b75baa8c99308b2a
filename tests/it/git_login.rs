//! Private git repositories: scopectl logs in with git's own credential
//! helpers (as git and cargo do), and a refused login says what to set up,
//! fails at once and changes nothing.

use crate::support;

use scope_test_support::GitHttpServer;
use support::snapshot::scopectl_snapshot;
use support::{output, stderr, TestContext};

const USER: &str = "scope";
const PASSWORD: &str = "s3cret";
/// `Basic ` and the base64 of `scope:s3cret`.
const AUTHORIZATION: &str = "Basic c2NvcGU6czNjcmV0";

#[test]
fn a_private_repository_is_installed_with_the_login_of_gits_credential_helper() {
    let context = TestContext::new();
    let scratch = tempfile::tempdir().unwrap();
    support::invert_repo(&scratch.path().join("invert")).commit("invert");
    let server = GitHttpServer::start_private(scratch.path(), AUTHORIZATION);
    let url = server.url("invert");
    let install = || output(context.scopectl().args(["install", &url, "--no-build"]));

    // No helper configured: refused at once (a 401 is not retried), with
    // what to do, and nothing installed.
    let refused = install();
    scopectl_snapshot!(&context, "a_login_no_helper_gave", &refused);
    assert!(
        !stderr(&refused).contains("attempts") && server.refused() <= 2,
        "a refused login is not retried ({} refusals): {}",
        server.refused(),
        stderr(&refused)
    );
    assert!(
        !context.home().join("plugins.toml").exists()
            || !fs_err::read_to_string(context.home().join("plugins.toml"))
                .unwrap()
                .contains("invert")
    );

    // A wrong stored login: refused, saying so.
    let home = context.temp.path();
    let store = home.join("git-credentials");
    let login = |password: &str| {
        fs_err::write(
            &store,
            format!("http://{USER}:{password}@{}\n", server.address()),
        )
        .unwrap();
    };
    fs_err::write(
        home.join(".gitconfig"),
        format!(
            "[credential]\n\thelper = store --file={}\n",
            store.display()
        ),
    )
    .unwrap();
    login("wrong");
    let wrong = install();
    scopectl_snapshot!(&context, "a_wrong_login_from_the_helper", &wrong);

    // The right one, as `git credential-store` keeps it (HOME is the
    // test's scratch directory, so this is the user's ~/.gitconfig).
    login(PASSWORD);
    let installed = install();
    assert!(installed.status.success(), "{}", stderr(&installed));
    let toml = fs_err::read_to_string(context.home().join("plugins.toml")).unwrap();
    assert!(toml.contains(&url), "{toml}");
    assert!(
        !toml.contains(PASSWORD),
        "the password is never written: {toml}"
    );
}
