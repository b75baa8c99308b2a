//! The bill of materials of a generation's host: a CycloneDX 1.5 JSON
//! document with every plugin and crate of its `resolved.lock` (name,
//! version, `pkg:cargo` purl, licence where cargo knows it, SHA-256 of a
//! registry crate) and the dependency edges between them. It is a function
//! of the generation, so an exported artifact keeps its digest.

use std::collections::BTreeMap;

use scope_lockfile::{CratePin, Lockfile, PinSource};
use serde_json::{json, Value};

/// Licence expressions by `(name, version)`, as the crates declare them.
pub type Licences = BTreeMap<(String, String), String>;

/// The SBOM of a host built from `lock`, made at `created` (RFC 3339).
pub fn cyclonedx(lock: &Lockfile, licences: &Licences, created: &str) -> Value {
    let plugin_names: Vec<String> = lock.plugins.iter().map(|p| p.name.to_string()).collect();
    let reference = |c: &CratePin| purl(&c.name, &c.version.to_string());
    let components: Vec<Value> = lock
        .crates
        .iter()
        .map(|c| {
            let version = c.version.to_string();
            let mut component = json!({
                "type": "library",
                "bom-ref": reference(c),
                "name": c.name,
                "version": version,
                "purl": reference(c),
            });
            if let Some(licence) = licences.get(&(c.name.clone(), version.clone())) {
                component["licenses"] = json!([{ "expression": licence }]);
            }
            if let Some(checksum) = &c.checksum {
                component["hashes"] = json!([{ "alg": "SHA-256", "content": checksum }]);
            }
            let pin = lock
                .plugins
                .iter()
                .find(|p| p.name.as_str() == c.name && p.version == c.version);
            let mut properties = Vec::new();
            if let Some(pin) = pin {
                properties.push(json!({"name": "scope:plugin", "value": "true"}));
                let (_, source) = crate::documents::source_of(&pin.source);
                properties.push(json!({"name": "scope:source", "value": source}));
                if let PinSource::Git { url, commit, .. } = &pin.source {
                    component["externalReferences"] =
                        json!([{ "type": "vcs", "url": url, "comment": format!("commit {commit}") }]);
                }
            } else if let Some(source) = &c.source {
                properties.push(json!({"name": "cargo:source", "value": source}));
            }
            if !properties.is_empty() {
                component["properties"] = Value::Array(properties);
            }
            component
        })
        .collect();
    let dependencies: Vec<Value> = lock
        .crates
        .iter()
        .map(|c| {
            let depends_on: Vec<String> = c
                .dependencies
                .iter()
                .filter_map(|d| resolve(&lock.crates, d))
                .map(reference)
                .collect();
            json!({ "ref": reference(c), "dependsOn": depends_on })
        })
        .collect();
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": { "components": [{
                "type": "application",
                "name": "scopectl",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": {
                "type": "application",
                "bom-ref": "scope-host",
                "name": "scope-host",
                "version": lock.host_version.to_string(),
                "description": format!(
                    "Scope host for plugin API {} with {}",
                    lock.api_version,
                    if plugin_names.is_empty() { "no plugins".to_owned() } else { plugin_names.join(", ") }
                ),
            },
        },
        "components": components,
        "dependencies": dependencies,
    })
}

/// `pkg:cargo/NAME@VERSION`.
fn purl(name: &str, version: &str) -> String {
    format!("pkg:cargo/{name}@{version}")
}

/// The crate a `Cargo.lock` dependency line names: `name`, `name version`
/// or `name version (source)`.
fn resolve<'a>(crates: &'a [CratePin], dependency: &str) -> Option<&'a CratePin> {
    let mut parts = dependency.split_whitespace();
    let name = parts.next()?;
    let version = parts.next();
    crates
        .iter()
        .find(|c| c.name == name && version.is_none_or(|v| c.version.to_string() == v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_lines_resolve_to_crates() {
        let pin = |name: &str, version: &str| CratePin {
            name: name.into(),
            version: version.parse().unwrap(),
            source: None,
            checksum: None,
            dependencies: Vec::new(),
        };
        let crates = [pin("a", "1.0.0"), pin("b", "1.0.0"), pin("b", "2.0.0")];
        assert_eq!(resolve(&crates, "a").unwrap().version.to_string(), "1.0.0");
        assert_eq!(
            resolve(&crates, "b 2.0.0 (registry+x)")
                .unwrap()
                .version
                .to_string(),
            "2.0.0"
        );
        assert!(resolve(&crates, "c").is_none());
    }
}
