//! `scopectl new NAME [--path DIR]`: a plugin crate that builds, passes its
//! own test and installs, as generated.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use scope_name::PluginName;

use super::Context;
use crate::error::Hinted;

pub fn new(context: &Context, name: &str, path: Option<&Path>) -> Result<ExitCode> {
    // The rule `install` uses: a plugin name is a crate name that is not Scope's own.
    let plugin = PluginName::new(name).map_err(|e| {
        let hint = if e.is_reserved() {
            "choose another name, e.g. `my-fx`"
        } else {
            "use lowercase letters, digits, `-` and `_`, starting with a letter (e.g. `my-fx`)"
        };
        Hinted::new(e.to_string(), hint)
    })?;
    let dir: PathBuf = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() && fs_err::read_dir(&dir)?.next().is_some() {
        return Err(Hinted::new(
            format!("`{}` already exists and is not empty", dir.display()),
            "choose another --path",
        )
        .into());
    }
    let id = plugin.normalized();
    let type_name: String = id
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    fs_err::create_dir_all(dir.join("src"))?;
    fs_err::write(dir.join("Cargo.toml"), manifest(name))?;
    fs_err::write(dir.join("src/lib.rs"), library(id, &type_name))?;
    fs_err::write(dir.join(".gitignore"), "/target\n")?;
    context
        .printer
        .status("Created", format!("plugin `{name}` in {}", dir.display()));
    // A path that a spec reads as a directory, never as a registry name.
    let shown = if dir.is_absolute() || dir.starts_with(".") {
        dir.display().to_string()
    } else {
        format!("./{}", dir.display())
    };
    let printer = &context.printer;
    printer.plan("Next:");
    printer.plan(&format!("  cd {shown} && scopectl test"));
    printer.plan(&format!("  scopectl install {shown}"));
    Ok(ExitCode::SUCCESS)
}

/// Nothing machine-specific: the SDK by version, as from a registry;
/// `scopectl test` and host builds supply the copy scopectl carries.
fn manifest(name: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
description = "A Scope plugin"
license = "MIT OR Apache-2.0"

[dependencies]
scope-plugin-api = "{api}"

[dev-dependencies]
scope-plugin-test = "{api}"

[package.metadata.scope]
register = "register_pipelines"

# A plugin is its own workspace. Its tests run with `scopectl test`, which
# supplies the SDK that scopectl carries.
[workspace]
"#,
        api = api_requirement()
    )
}

fn library(id: &str, type_name: &str) -> String {
    format!(
        r#"//! A Scope plugin: one video pipeline, `{id}`, that brightens frames.

use scope_plugin_api::{{Error, Frame, Load, Mode, Param, Params, Pipeline, PipelineConfig, Registry}};

/// Brightens every pixel by `amount`.
pub struct {type_name};

impl Pipeline for {type_name} {{
    fn config() -> PipelineConfig {{
        PipelineConfig::new("{id}", "{type_name}")
            .description("Brightens video frames")
            .modes(&[Mode::Video], Mode::Video)
            .param(
                Param::float("amount", 0.2)
                    .range(0.0, 1.0)
                    .label("Amount")
                    .description("How much to brighten (0 = unchanged, 1 = white)")
                    .order(1),
            )
    }}

    fn load(_load: &Load) -> Result<Self, Error> {{
        Ok({type_name})
    }}

    fn process(&mut self, input: Vec<Frame>, params: &Params) -> Result<Vec<Frame>, Error> {{
        let amount = params.float("amount") as f32;
        Ok(input.into_iter().map(|frame| frame.map_float(|v| v + (1.0 - v) * amount)).collect())
    }}
}}

/// Called by the host: registers the pipelines of this plugin.
pub fn register_pipelines(registry: &mut Registry) {{
    registry.register::<{type_name}>();
}}

#[cfg(test)]
mod tests {{
    // The harness runs the pipeline as the host does: registration,
    // parameters, batches and the frame contract.
    use scope_plugin_test::{{frames, Harness}};

    #[test]
    fn brightens_as_the_host_runs_it() {{
        let mut harness = Harness::builder(super::register_pipelines, "{id}")
            .size(4, 4)
            .param("amount", "0.5")
            .load()
            .unwrap();
        let out = harness.run([frames::solid(4, 4, [0, 100, 255])]).unwrap();
        assert_eq!(out[0].pixel(0, 0), [128, 178, 255]);
    }}
}}
"#
    )
}

/// The SDK requirement a new plugin starts with: compatible with this
/// scopectl's API, as cargo writes a caret requirement (`0.1`, `1`).
fn api_requirement() -> String {
    let version =
        semver::Version::parse(scope_plugin_api::API_VERSION).expect("the API version is semver");
    match version.major {
        0 => format!("0.{}", version.minor),
        major => major.to_string(),
    }
}
