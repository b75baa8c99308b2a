//! What `pipelines` and `self-check` print, as text and as JSON.

use std::fmt::Write as _;

use scope_plugin_api::json::Json;
use scope_plugin_api::{ParamKind, API_VERSION};

use crate::catalog::Catalog;

/// Version of the JSON documents below; additions only.
const JSON_VERSION: i64 = 1;

fn strs<'a>(items: impl IntoIterator<Item = &'a str>) -> Json {
    Json::Array(items.into_iter().map(Json::str).collect())
}

fn registration_errors(catalog: &Catalog) -> Json {
    Json::Array(
        catalog
            .plugins
            .iter()
            .flat_map(|p| {
                p.errors
                    .iter()
                    .map(|e| Json::object([("plugin", Json::str(p.name)), ("error", Json::str(e))]))
            })
            .collect(),
    )
}

/// `pipelines --json`.
pub fn pipelines_json(catalog: &Catalog) -> String {
    let pipelines = catalog.pipelines.iter().map(|p| {
        let Json::Object(mut fields) = p.entry.config().to_json() else {
            unreachable!("a config is an object")
        };
        fields.insert(1, ("plugin".into(), Json::str(p.plugin)));
        fields.insert(2, ("plugin_version".into(), Json::str(p.plugin_version)));
        Json::Object(fields)
    });
    Json::object([
        ("version", Json::Int(JSON_VERSION)),
        ("api_version", Json::str(API_VERSION)),
        ("pipelines", Json::Array(pipelines.collect())),
        ("errors", registration_errors(catalog)),
    ])
    .to_string()
}

/// `pipelines` for a person.
pub fn pipelines_text(catalog: &Catalog) -> String {
    let mut out = String::new();
    for p in &catalog.pipelines {
        let config = p.entry.config();
        let modes: Vec<&str> = config
            .supported_modes()
            .iter()
            .map(|m| m.as_str())
            .collect();
        let _ = writeln!(
            out,
            "{} — {} ({} {}; modes: {})",
            config.id(),
            config.name(),
            p.plugin,
            p.plugin_version,
            modes.join(", ")
        );
        if !config.description_text().is_empty() {
            let _ = writeln!(out, "    {}", config.description_text());
        }
        for param in config.params() {
            let bounds = match param.kind() {
                ParamKind::Integer { min, max } => {
                    range(min.map(|v| v.to_string()), max.map(|v| v.to_string()))
                }
                ParamKind::Float { min, max } => {
                    range(min.map(|v| format!("{v:?}")), max.map(|v| format!("{v:?}")))
                }
                ParamKind::Choice { options } => format!(" one of {}", options.join("|")),
                ParamKind::Bool | ParamKind::String => String::new(),
            };
            let when = if param.is_load_param() {
                ", load-time"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "    --set {}=<{}>  default {}{bounds}{when}",
                param.key(),
                kind_name(param.kind()),
                param.default_value()
            );
        }
    }
    for status in &catalog.plugins {
        for error in &status.errors {
            let _ = writeln!(out, "error: plugin `{}`: {error}", status.name);
        }
    }
    out
}

fn kind_name(kind: &ParamKind) -> &'static str {
    match kind {
        ParamKind::Bool => "bool",
        ParamKind::Integer { .. } => "integer",
        ParamKind::Float { .. } => "float",
        ParamKind::String => "string",
        ParamKind::Choice { .. } => "choice",
    }
}

fn range(min: Option<String>, max: Option<String>) -> String {
    match (min, max) {
        (None, None) => String::new(),
        (min, max) => format!(
            " in {}..={}",
            min.unwrap_or_default(),
            max.unwrap_or_default()
        ),
    }
}

/// `self-check --json`.
pub fn self_check_json(catalog: &Catalog) -> String {
    let plugins = catalog.plugins.iter().map(|p| {
        Json::object([
            ("name", Json::str(p.name)),
            ("version", Json::str(p.version)),
            ("registered", Json::Bool(p.errors.is_empty())),
            ("pipelines", strs(p.pipelines.iter().map(String::as_str))),
            ("errors", strs(p.errors.iter().map(String::as_str))),
        ])
    });
    let duplicates = catalog.duplicates.iter().map(|d| {
        Json::object([
            ("id", Json::str(&d.id)),
            ("plugins", strs(d.plugins.iter().copied())),
        ])
    });
    Json::object([
        ("version", Json::Int(JSON_VERSION)),
        ("ok", Json::Bool(catalog.is_healthy())),
        ("host_version", Json::str(env!("CARGO_PKG_VERSION"))),
        ("api_version", Json::str(API_VERSION)),
        ("plugins", Json::Array(plugins.collect())),
        ("pipelines", strs(catalog.ids())),
        ("duplicates", Json::Array(duplicates.collect())),
    ])
    .to_string()
}

/// `self-check` for a person.
pub fn self_check_text(catalog: &Catalog) -> String {
    let mut out = String::new();
    for p in &catalog.plugins {
        if p.errors.is_empty() {
            let _ = writeln!(
                out,
                "ok     {} {}: {}",
                p.name,
                p.version,
                p.pipelines.join(", ")
            );
        } else {
            for error in &p.errors {
                let _ = writeln!(out, "FAILED {} {}: {error}", p.name, p.version);
            }
        }
    }
    out
}
