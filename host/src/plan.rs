//! Turns `run` arguments into a checked plan before any frame moves: which
//! pipelines, in which mode, with which validated load-time and runtime
//! parameters, reading and writing what.

use scope_plugin_api::{Mode, Params, PipelineConfig, Value};

use crate::catalog::{Catalog, Registered};
use crate::cli::{Format, Input, RunArgs};

/// One pipeline of the chain, ready to load.
pub struct StagePlan<'c> {
    pub pipeline: &'c Registered,
    pub mode: Mode,
    pub load: Params,
    pub runtime: Params,
}

impl StagePlan<'_> {
    pub fn id(&self) -> &str {
        self.pipeline.entry.config().id()
    }
}

/// Where the first frames come from.
pub enum SourcePlan {
    /// A stream (file or stdin) in this format.
    Stream(Input, Format),
    /// The built-in pattern.
    TestSrc,
    /// The first pipeline, in text mode.
    Generator,
}

/// A checked chain.
pub struct Plan<'c> {
    pub source: SourcePlan,
    pub stages: Vec<StagePlan<'c>>,
}

/// Checks the chain and every parameter against the pipelines' schemas.
pub fn plan<'c>(catalog: &'c Catalog, args: &RunArgs) -> Result<Plan<'c>, String> {
    if args.pipelines.is_empty() {
        return Err(format!(
            "no pipeline given: add `--pipeline ID`; available: {}",
            available(catalog)
        ));
    }
    let mut pipelines = Vec::new();
    for id in &args.pipelines {
        let found = catalog.find(id).ok_or_else(|| {
            format!(
                "no pipeline `{id}` in this host; available: {}",
                available(catalog)
            )
        })?;
        pipelines.push(found);
    }
    let source = match (&args.input, args.input_format) {
        (Some(Input::TestSrc), _) => SourcePlan::TestSrc,
        (Some(input), format) => SourcePlan::Stream(input.clone(), format),
        (None, _) if pipelines[0].entry.config().supports(Mode::Text) => SourcePlan::Generator,
        (None, _) => {
            return Err(format!(
                "pipeline `{}` transforms video and needs input frames: add `--input FILE`, `--input -` or `--input testsrc`",
                args.pipelines[0]
            ))
        }
    };
    if let SourcePlan::Stream(_, Format::Rgb24) = source {
        if args.size.is_none() {
            return Err(
                "raw rgb24 input has no header: give its frame size with `--size WxH`".into(),
            );
        }
    }
    if let SourcePlan::Stream(_, Format::Y4m) = source {
        if args.size.is_some() {
            return Err("`--size` is for generated frames and rgb24 input; a y4m stream carries its own size".into());
        }
    }
    let modes: Vec<Mode> = pipelines
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let config = p.entry.config();
            let mode = if i == 0 && matches!(source, SourcePlan::Generator) { Mode::Text } else { Mode::Video };
            if !config.supports(mode) {
                return Err(if i == 0 {
                    format!("pipeline `{}` generates frames (text mode) and takes no input: drop `--input`", config.id())
                } else {
                    format!(
                        "pipeline `{}` generates frames (text mode) and cannot take frames from `{}`: put it first in the chain",
                        config.id(),
                        args.pipelines[i - 1]
                    )
                });
            }
            Ok(mode)
        })
        .collect::<Result<_, String>>()?;

    let configs: Vec<&PipelineConfig> = pipelines.iter().map(|p| p.entry.config()).collect();
    let mut given: Vec<Vec<(String, Value)>> = vec![Vec::new(); pipelines.len()];
    for set in &args.sets {
        let (targets, key, raw) = targets_of(set, &args.pipelines, &configs)?;
        for i in targets {
            let value = configs[i]
                .parse_value(key, raw)
                .map_err(|e| e.to_string())?;
            given[i].push((key.to_owned(), value));
        }
    }
    if args.prompt.is_some()
        && !pipelines
            .iter()
            .any(|p| p.entry.config().prompts_supported())
    {
        return Err("`--prompt` was given, but no pipeline in the chain supports prompts".into());
    }
    let mut stages = Vec::new();
    for ((pipeline, mode), given) in pipelines.into_iter().zip(modes).zip(given) {
        let (load, runtime) = pipeline
            .entry
            .config()
            .resolve(mode, &given, args.prompt.as_deref())
            .map_err(|e| e.to_string())?;
        stages.push(StagePlan {
            pipeline,
            mode,
            load,
            runtime,
        });
    }
    Ok(Plan { source, stages })
}

/// Which pipelines of the chain `[PIPELINE[#N].]KEY=VALUE` addresses, with
/// its key and raw value. `ID.KEY` sets every instance of the pipeline,
/// `ID#N.KEY` the Nth; a bare key the one pipeline that has it.
pub fn targets_of<'a>(
    set: &'a str,
    chain: &[String],
    configs: &[&PipelineConfig],
) -> Result<(Vec<usize>, &'a str, &'a str), String> {
    let (target, key, raw) = split_set(set, chain)?;
    let targets: Vec<usize> = match target {
        Some((id, instance)) => (0..configs.len())
            .filter(|&i| chain[i] == id)
            .enumerate()
            .filter(|(n, _)| instance.is_none_or(|wanted| wanted == n + 1))
            .map(|(_, i)| i)
            .collect(),
        None => {
            let having: Vec<usize> = (0..configs.len())
                .filter(|&i| configs[i].find_param(key).is_some())
                .collect();
            match having.len() {
                0 if configs.len() == 1 => vec![0], // the schema names the known keys
                0 => {
                    return Err(format!(
                        "no pipeline in the chain has a parameter `{key}`; {}",
                        known_keys(configs)
                    ))
                }
                1 => having,
                _ => {
                    let ids: Vec<String> = having
                        .iter()
                        .map(|&i| format!("`{}.{key}`", instance_name(chain, i)))
                        .collect();
                    return Err(format!(
                        "`{key}` is a parameter of several pipelines in the chain: write {}",
                        ids.join(" or ")
                    ));
                }
            }
        }
    };
    Ok((targets, key, raw))
}

/// How the `i`th pipeline of the chain is addressed: its id, or `ID#N`
/// when the chain has it more than once.
pub fn instance_name(chain: &[String], i: usize) -> String {
    let id = &chain[i];
    if chain.iter().filter(|c| *c == id).count() < 2 {
        return id.clone();
    }
    let n = chain[..=i].iter().filter(|c| *c == id).count();
    format!("{id}#{n}")
}

/// A pipeline of the chain and, with `ID#N`, which instance of it.
type Target<'a> = (&'a str, Option<usize>);

/// Splits `[PIPELINE[#N].]KEY=VALUE`.
fn split_set<'a>(
    set: &'a str,
    chain: &[String],
) -> Result<(Option<Target<'a>>, &'a str, &'a str), String> {
    let (name, raw) = set.split_once('=').ok_or_else(|| {
        format!("`--set {set}` has no value: write `--set KEY=VALUE` or `--set PIPELINE.KEY=VALUE`")
    })?;
    let Some((target, key)) = name.split_once('.') else {
        return Ok((None, name, raw));
    };
    let (id, instance) = match target.split_once('#') {
        Some((id, n)) => {
            let count = chain.iter().filter(|c| *c == id).count();
            match n.parse::<usize>() {
                Ok(n) if (1..=count).contains(&n) => (id, Some(n)),
                _ => {
                    return Err(format!(
                        "`--set {set}`: the chain has {count} instance(s) of `{id}`; write `{id}#1` to `{id}#{count}`"
                    ))
                }
            }
        }
        None => (target, None),
    };
    if !chain.iter().any(|c| c == id) {
        return Err(format!(
            "`--set {set}` names pipeline `{id}`, which is not in the chain"
        ));
    }
    Ok((Some((id, instance)), key, raw))
}

fn available(catalog: &Catalog) -> String {
    let ids = catalog.ids();
    if ids.is_empty() {
        "none (this host has no working plugins)".into()
    } else {
        ids.iter()
            .map(|id| format!("`{id}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn known_keys(configs: &[&PipelineConfig]) -> String {
    let lists: Vec<String> = configs
        .iter()
        .map(|config| {
            let keys: Vec<String> = config
                .params()
                .iter()
                .map(|k| format!("`{}`", k.key()))
                .collect();
            if keys.is_empty() {
                format!("`{}` takes none", config.id())
            } else {
                format!("`{}` takes {}", config.id(), keys.join(", "))
            }
        })
        .collect();
    lists.join("; ")
}
