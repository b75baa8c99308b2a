//! Resolver scenarios from `fixtures/resolver/*.toml`: a universe, a locked
//! set, a request, and the expected solution or the expected report, word
//! for word, so a change in wording is a reviewed change.

use std::collections::BTreeMap;
use std::path::PathBuf;

use scope_resolver::{resolve, Choice, Manifest, MemoryIndex, Request, ResolveError, Unlock};
use semver::{Version, VersionReq};
use toml_edit::{DocumentMut, Item};

fn str_of(item: &Item) -> String {
    item.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {item}"))
        .to_owned()
}

fn table_pairs(item: Option<&Item>) -> Vec<(String, String)> {
    item.and_then(Item::as_table_like)
        .map(|t| t.iter().map(|(k, v)| (k.to_owned(), str_of(v))).collect())
        .unwrap_or_default()
}

fn strings(item: Option<&Item>) -> Vec<String> {
    item.and_then(Item::as_array)
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().expect("strings").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

struct Scenario {
    index: MemoryIndex,
    request: Request,
    doc: DocumentMut,
}

fn load(path: &PathBuf) -> Scenario {
    let text = fs_err::read_to_string(path).unwrap();
    let doc: DocumentMut = text
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let api = Version::parse(doc.get("api").and_then(Item::as_str).unwrap_or("0.1.0")).unwrap();
    let mut index = MemoryIndex::new();
    if let Some(universe) = doc.get("universe").and_then(Item::as_table_like) {
        for (plugin, versions) in universe.iter() {
            for (version, spec) in versions.as_table_like().expect("versions table").iter() {
                let spec = spec.as_table_like().expect("a version table");
                let manifest = Manifest {
                    dependencies: table_pairs(spec.get("deps"))
                        .into_iter()
                        .map(|(name, req)| (name, VersionReq::parse(&req).unwrap()))
                        .collect(),
                    api: VersionReq::parse(spec.get("api").and_then(Item::as_str).unwrap_or("*"))
                        .unwrap(),
                    conflicts: strings(spec.get("conflicts")),
                };
                let yanked = spec.get("yanked").and_then(Item::as_bool).unwrap_or(false);
                index.add(plugin, Version::parse(version).unwrap(), yanked, manifest);
            }
        }
    }
    let mut request = Request::new(api);
    for (name, req) in table_pairs(doc.get("request")) {
        request = request.require(&n(&name), VersionReq::parse(&req).unwrap());
    }
    // `[origins] NAME = { source = "./x", manifest = "./x/Cargo.toml" }`:
    // a path or git plugin (its request is its one version, `=V`).
    if let Some(origins) = doc.get("origins").and_then(Item::as_table_like) {
        for (name, origin) in origins.iter() {
            let field = |key: &str| {
                origin
                    .as_table_like()
                    .and_then(|t| t.get(key))
                    .and_then(Item::as_str)
                    .expect("source and manifest")
                    .to_owned()
            };
            request = request.origin(
                &n(name),
                scope_resolver::Origin {
                    source: field("source"),
                    manifest: field("manifest"),
                },
            );
        }
    }
    for (name, version) in table_pairs(doc.get("locked")) {
        request = request.lock(&n(&name), Version::parse(&version).unwrap());
    }
    request.unlock = match doc.get("unlock") {
        None => Unlock::Nothing,
        Some(item) if item.as_str() == Some("all") => Unlock::All,
        Some(item) => Unlock::Plugins(strings(Some(item)).iter().map(|s| n(s)).collect()),
    };
    Scenario {
        index,
        request,
        doc,
    }
}

fn describe_choice(choice: &Choice) -> String {
    match choice {
        Choice::Locked => "locked".into(),
        Choice::Newest => "newest".into(),
        Choice::Held { newest, by } => format!("held below {newest}: {by}"),
        Choice::Moved { from, by } => format!("moved from {from}: {by}"),
    }
}

/// With `BLESS=1`, a scenario's expected report and hint are rewritten to
/// what the resolver says now, for review in the diff.
fn bless(path: &PathBuf, report: &scope_resolver::Report) {
    let mut doc: DocumentMut = fs_err::read_to_string(path).unwrap().parse().unwrap();
    let expect = doc["expect"]
        .as_table_like_mut()
        .expect("an [expect] table");
    let mut text = toml_edit::Formatted::new(report.text.clone());
    if report.text.contains('\n') {
        text = toml_edit::Formatted::new(format!("{}\n", report.text));
    }
    expect.insert("report", Item::Value(toml_edit::Value::String(text)));
    expect.insert("hint", toml_edit::value(report.hint.clone()));
    fs_err::write(path, doc.to_string()).unwrap();
}

/// Runs one scenario; returns the mismatches.
#[allow(clippy::disallowed_methods)] // BLESS is the test's own switch
fn check(path: &PathBuf) -> Vec<String> {
    let scenario = load(path);
    let expect = scenario
        .doc
        .get("expect")
        .and_then(Item::as_table_like)
        .expect("an [expect] table");
    let problems = std::cell::RefCell::new(Vec::new());
    let mismatch = |what: &str, expected: String, actual: String| {
        if expected != actual {
            problems.borrow_mut().push(format!(
                "{what}:\n  expected: {expected:?}\n  actual:   {actual:?}"
            ));
        }
    };
    match resolve(&scenario.index, &scenario.request) {
        Ok(resolution) => {
            let actual: BTreeMap<String, String> = resolution
                .plugins
                .iter()
                .map(|(n, p)| (n.normalized().to_owned(), p.version.to_string()))
                .collect();
            match expect.get("solution") {
                Some(solution) => {
                    let expected: BTreeMap<String, String> =
                        table_pairs(Some(solution)).into_iter().collect();
                    mismatch("solution", format!("{expected:?}"), format!("{actual:?}"));
                }
                None => problems
                    .borrow_mut()
                    .push(format!("expected a failure, got the solution {actual:?}")),
            }
            for (name, expected) in table_pairs(expect.get("choice")) {
                let actual = resolution
                    .plugins
                    .get(name.as_str())
                    .map(|p| describe_choice(&p.choice))
                    .unwrap_or_default();
                mismatch(&format!("choice of {name}"), expected, actual);
            }
            if let Some(moved) = expect.get("moved") {
                let actual: Vec<String> = resolution
                    .moved
                    .iter()
                    .map(|m| format!("{} {} -> {}: {}", m.plugin, m.from, m.to, m.by))
                    .collect();
                mismatch(
                    "moved",
                    format!("{:?}", strings(Some(moved))),
                    format!("{actual:?}"),
                );
            }
            for (name, expected) in table_pairs(expect.get("required_by")) {
                let actual = resolution.plugins.get(name.as_str()).map(|p| {
                    p.required_by
                        .iter()
                        .map(|r| format!("{} {}", r.by, r.req))
                        .collect::<Vec<_>>()
                        .join("; ")
                });
                mismatch(
                    &format!("required_by of {name}"),
                    expected,
                    actual.unwrap_or_default(),
                );
            }
        }
        Err(ResolveError::NoSolution(report)) => {
            if std::env::var_os("BLESS").is_some() && expect.get("report").is_some() {
                bless(path, &report);
                return Vec::new();
            }
            match expect.get("report") {
                Some(expected) => mismatch(
                    "report",
                    str_of(expected).trim_end().to_owned(),
                    report.text.clone(),
                ),
                None => problems
                    .borrow_mut()
                    .push(format!("expected a solution, got:\n{report}")),
            }
            if let Some(hint) = expect.get("hint") {
                mismatch("hint", str_of(hint), report.hint.clone());
            }
        }
        Err(other) => problems
            .borrow_mut()
            .push(format!("the index failed: {other}")),
    }
    problems.into_inner()
}

#[test]
fn every_scenario_resolves_as_expected() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/resolver");
    let mut paths: Vec<PathBuf> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 30,
        "at least 30 scenarios, found {}",
        paths.len()
    );
    let mut failures = Vec::new();
    for path in &paths {
        let problems = check(path);
        if !problems.is_empty() {
            failures.push(format!(
                "{}\n{}",
                path.file_name().unwrap().to_string_lossy(),
                problems.join("\n")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n\n")
    );
}

/// A plugin name.
fn n(name: &str) -> scope_resolver::PluginName {
    scope_resolver::PluginName::new(name).unwrap()
}
