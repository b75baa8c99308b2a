//! Git sources against local repositories made on the spot.

use scope_registry_client::git::{remote_tip, GitCache, GitError, GitReference, GitUrl};
use scope_registry_client::http::HttpSettings;
use scope_test_support::GitRepo;

struct Scene {
    temp: tempfile::TempDir,
    upstream: GitRepo,
    cache: GitCache,
    url: GitUrl,
}

fn scene() -> Scene {
    let temp = tempfile::tempdir().unwrap();
    let upstream = GitRepo::init(&temp.path().join("upstream"));
    upstream.write(
        "Cargo.toml",
        "[package]\nname = \"fx\"\nversion = \"0.1.0\"\n",
    );
    let url = GitUrl::parse(&upstream.url()).unwrap();
    let cache = GitCache::new(temp.path().join("cache"), &HttpSettings::default());
    Scene {
        temp,
        upstream,
        cache,
        url,
    }
}

#[test]
fn the_default_branch_a_branch_and_a_new_commit_on_it() {
    let s = scene();
    let first = s.upstream.commit("first");
    assert_eq!(
        s.cache.fetch(&s.url, &GitReference::DefaultBranch).unwrap(),
        first
    );
    s.upstream.branch("dev", first);
    assert_eq!(
        s.cache
            .fetch(&s.url, &GitReference::Branch("dev".into()))
            .unwrap(),
        first
    );
    s.upstream.write("src/lib.rs", "// second");
    let second = s.upstream.commit("second");
    assert_eq!(
        s.cache.fetch(&s.url, &GitReference::DefaultBranch).unwrap(),
        second,
        "main moved"
    );
    assert_eq!(
        s.cache
            .fetch(&s.url, &GitReference::Branch("dev".into()))
            .unwrap(),
        first,
        "dev did not"
    );
    let missing = s
        .cache
        .fetch(&s.url, &GitReference::Branch("nope".into()))
        .unwrap_err();
    assert!(
        missing.to_string().ends_with("has no branch `nope`"),
        "{missing}"
    );
}

#[test]
fn a_tag_and_a_tag_that_moved() {
    let s = scene();
    let first = s.upstream.commit("first");
    s.upstream.tag("v1.0.0", first);
    assert_eq!(
        s.cache
            .fetch(&s.url, &GitReference::Tag("v1.0.0".into()))
            .unwrap(),
        first
    );
    s.upstream.write("README", "moved");
    let second = s.upstream.commit("second");
    s.upstream.tag("v1.0.0", second);
    assert_eq!(
        s.cache
            .fetch(&s.url, &GitReference::Tag("v1.0.0".into()))
            .unwrap(),
        second,
        "the moved tag is followed"
    );
}

#[test]
fn a_full_or_abbreviated_commit_and_at_rev_names() {
    let s = scene();
    let first = s.upstream.commit("first");
    s.upstream.write("x", "y");
    s.upstream.commit("second");
    let short = first.to_string()[..8].to_owned();
    assert_eq!(
        s.cache.fetch(&s.url, &GitReference::Rev(short)).unwrap(),
        first
    );
    assert_eq!(
        s.cache
            .fetch(&s.url, &GitReference::Rev(first.to_string()))
            .unwrap(),
        first
    );
    s.upstream.tag("v2", first);
    assert_eq!(
        s.cache
            .fetch(&s.url, &GitReference::Rev("v2".into()))
            .unwrap(),
        first,
        "@REV may name a tag"
    );
    let err = s
        .cache
        .fetch(&s.url, &GitReference::Rev("0123456789abcdef".into()))
        .unwrap_err();
    assert!(matches!(err, GitError::NotFound { .. }), "{err}");
}

#[test]
fn checkouts_are_keyed_by_commit_and_reused() {
    let s = scene();
    s.upstream.write("src/lib.rs", "pub fn one() {}");
    let first = s.upstream.commit("first");
    let dir = s
        .cache
        .checkout(
            &s.url,
            s.cache.fetch(&s.url, &GitReference::DefaultBranch).unwrap(),
        )
        .unwrap();
    assert!(dir.ends_with(first.to_string()));
    assert_eq!(
        fs_err::read_to_string(dir.join("src/lib.rs")).unwrap(),
        "pub fn one() {}"
    );
    assert!(!dir.join(".git").exists(), "a plain tree, no repository");
    fs_err::write(dir.join("scratch"), "kept").unwrap();
    assert_eq!(s.cache.checkout(&s.url, first).unwrap(), dir);
    assert!(
        dir.join("scratch").exists(),
        "a complete checkout is reused as it is"
    );
}

#[test]
fn plugins_with_submodules_are_refused() {
    let s = scene();
    s.upstream.write(
        ".gitmodules",
        "[submodule \"x\"]\n\tpath = x\n\turl = https://example.org/x\n",
    );
    let commit = s.upstream.commit("with a submodule");
    s.cache.fetch(&s.url, &GitReference::DefaultBranch).unwrap();
    let err = s.cache.checkout(&s.url, commit).unwrap_err();
    assert!(err.to_string().contains("uses git submodules"), "{err}");
}

#[test]
fn the_remote_tip_is_read_without_fetching() {
    let s = scene();
    let first = s.upstream.commit("first");
    s.upstream.branch("dev", first);
    s.upstream.write("y", "z");
    let second = s.upstream.commit("second");
    assert_eq!(
        remote_tip(&s.url, None, &HttpSettings::default()).unwrap(),
        second
    );
    assert_eq!(
        remote_tip(&s.url, Some("dev"), &HttpSettings::default()).unwrap(),
        first
    );
    assert!(!s.temp.path().join("cache").exists(), "no fetch happened");
    let err = remote_tip(&s.url, Some("gone"), &HttpSettings::default()).unwrap_err();
    assert!(err.to_string().contains("has no branch `gone`"), "{err}");
}

#[test]
fn bad_urls_and_revisions_start_no_git_operation() {
    let s = scene();
    s.upstream.commit("first");
    for url in [
        "-oProxyCommand=evil",
        "ext::sh -c evil",
        "fd::3",
        "http://example.org/x",
    ] {
        assert!(GitUrl::parse(url).is_err(), "{url}");
    }
    for rev in ["--upload-pack=evil", "a b", "x..y"] {
        let err = s
            .cache
            .fetch(&s.url, &GitReference::Rev(rev.into()))
            .unwrap_err();
        assert!(matches!(err, GitError::BadRevision { .. }), "{rev}: {err}");
    }
    assert!(!s.temp.path().join("cache").exists(), "nothing was created");
}

#[test]
fn two_spellings_of_one_repository_share_a_cache() {
    let s = scene();
    s.upstream.commit("first");
    let with_suffix =
        GitUrl::parse(&format!("{}.git", s.upstream.url().trim_end_matches('/'))).unwrap();
    assert_eq!(
        with_suffix.cache_key(),
        GitUrl::parse(&format!("{}/", s.upstream.url()))
            .unwrap()
            .cache_key()
    );
}

#[test]
fn a_missing_local_repository_fails_at_once_without_retries() {
    let temp = tempfile::tempdir().unwrap();
    let slow_retries = HttpSettings {
        backoff: std::time::Duration::from_secs(2),
        ..HttpSettings::default()
    };
    let cache = GitCache::new(temp.path().join("cache"), &slow_retries);
    let url = GitUrl::parse(&format!("file://{}/nowhere", temp.path().display())).unwrap();
    let err = cache
        .fetch(&url, &GitReference::DefaultBranch)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nowhere"), "{err}");
    // Retried, it would say after how many attempts it gave up.
    assert!(!err.contains("attempts"), "{err}");
}
