use crate::json::Json;
use crate::params::{Param, ParamError, ParamErrorKind, Params, Value};

/// How a pipeline gets its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// Generates frames from nothing (and from a prompt, where supported).
    Text,
    /// Transforms input frames.
    Video,
}

impl Mode {
    /// The mode's name as users write it: `text` or `video`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Text => "text",
            Mode::Video => "video",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a pipeline type declares about itself: identity, modes and the
/// schema of its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    id: String,
    name: String,
    description: String,
    supports_prompts: bool,
    modes: Vec<Mode>,
    default_mode: Mode,
    params: Vec<Param>,
    frames_out_per_in: Option<(u32, u32)>,
}

impl PipelineConfig {
    /// A video-mode pipeline with this id and display name, no parameters.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        PipelineConfig {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            supports_prompts: false,
            modes: vec![Mode::Video],
            default_mode: Mode::Video,
            params: Vec::new(),
            frames_out_per_in: None,
        }
    }

    /// Sets the description shown to users.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Declares that the pipeline reads the prompt (`--prompt`).
    pub fn supports_prompts(mut self, supports: bool) -> Self {
        self.supports_prompts = supports;
        self
    }

    /// Sets the modes the pipeline runs in and which of them is the default.
    pub fn modes(mut self, modes: &[Mode], default: Mode) -> Self {
        self.modes = modes.to_vec();
        self.default_mode = default;
        self
    }

    /// Declares that the pipeline changes the number of frames: over the
    /// stream it returns `out` frames for every `per` frames in (`2, 1` for
    /// an interpolator that doubles the rate, `1, 2` for a decimator that
    /// halves it). Without it the host holds every video-mode call to one
    /// frame out per frame in. With it the host holds the pipeline to the
    /// ratio: never more frames out than the frames in so far allow, and by
    /// the end of the stream the declared number (rounded down or up); the
    /// output's frame rate is scaled by the same ratio (see
    /// [`Pipeline`](crate::Pipeline)).
    pub fn changes_frame_count(mut self, out: u32, per: u32) -> Self {
        self.frames_out_per_in = Some((out, per));
        self
    }

    /// Whether a call may return another number of frames than it was given.
    pub fn frame_count_changes(&self) -> bool {
        self.frames_out_per_in.is_some()
    }

    /// The declared frames out per frames in, when the pipeline changes the
    /// number of frames.
    pub fn frames_out_per_in(&self) -> Option<(u32, u32)> {
        self.frames_out_per_in
    }

    /// Adds a parameter.
    pub fn param(mut self, param: Param) -> Self {
        self.params.push(param);
        self
    }

    /// The id, unique across a host: `[a-z0-9][a-z0-9-]*`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The description.
    pub fn description_text(&self) -> &str {
        &self.description
    }

    /// Whether the pipeline reads the prompt.
    pub fn prompts_supported(&self) -> bool {
        self.supports_prompts
    }

    /// The modes the pipeline runs in.
    pub fn supported_modes(&self) -> &[Mode] {
        &self.modes
    }

    /// The mode used when nothing else decides.
    pub fn default_mode(&self) -> Mode {
        self.default_mode
    }

    /// The parameters, in declaration order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The parameter with this key.
    pub fn find_param(&self, key: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.key() == key)
    }

    /// Whether the pipeline can run in `mode`.
    pub fn supports(&self, mode: Mode) -> bool {
        self.modes.contains(&mode)
    }

    /// Checks the declaration itself: a valid id, a default mode among the
    /// modes, valid and unique parameter keys, defaults that satisfy their
    /// own bounds.
    pub fn validate(&self) -> Result<(), String> {
        if !is_valid_id(&self.id) {
            return Err(format!(
                "`{}` is not a valid pipeline id: use lowercase letters, digits and `-`, starting with a letter or digit",
                self.id
            ));
        }
        if let Some((out, per)) = self.frames_out_per_in {
            if out == 0 || per == 0 {
                return Err(format!(
                    "it declares {out} frame(s) out per {per} in: both must be at least 1"
                ));
            }
        }
        if self.modes.is_empty() {
            return Err("it declares no modes: give `text`, `video` or both".into());
        }
        if !self.modes.contains(&self.default_mode) {
            return Err(format!(
                "its default mode `{}` is not one of its modes",
                self.default_mode
            ));
        }
        for (i, param) in self.params.iter().enumerate() {
            if self.params[..i].iter().any(|p| p.key() == param.key()) {
                return Err(format!("parameter `{}` is declared twice", param.key()));
            }
            param
                .validate()
                .map_err(|reason| format!("parameter `{}`: {reason}", param.key()))?;
            if let Some(mode) = param.modes_list().iter().find(|m| !self.modes.contains(m)) {
                return Err(format!(
                    "parameter `{}` applies in `{mode}` mode, which the pipeline does not support",
                    param.key()
                ));
            }
        }
        Ok(())
    }

    /// Parses a value the user wrote for `key`.
    pub fn parse_value(&self, key: &str, raw: &str) -> Result<Value, ParamError> {
        let param = self.param_or_error(key)?;
        param.parse(raw).map_err(|kind| self.error(key, kind))
    }

    /// Splits the user's values into load-time and runtime [`Params`] for a
    /// pipeline running in `mode`, filling in defaults. Refuses unknown keys,
    /// values out of bounds and parameters that do not apply in `mode`.
    pub fn resolve(
        &self,
        mode: Mode,
        given: &[(String, Value)],
        prompt: Option<&str>,
    ) -> Result<(Params, Params), ParamError> {
        let mut load = Params::empty(mode);
        let mut runtime = Params::empty(mode);
        for param in self.params.iter().filter(|p| p.applies_in(mode)) {
            let target = if param.is_load_param() {
                &mut load
            } else {
                &mut runtime
            };
            target.insert(param.key(), param.default_value().clone());
        }
        for (key, value) in given {
            let param = self.param_or_error(key)?;
            if !param.applies_in(mode) {
                return Err(self.error(key, ParamErrorKind::WrongMode { mode }));
            }
            param.check(value).map_err(|kind| self.error(key, kind))?;
            let target = if param.is_load_param() {
                &mut load
            } else {
                &mut runtime
            };
            target.insert(key, value.clone());
        }
        if let Some(prompt) = prompt.filter(|_| self.supports_prompts) {
            load.set_prompt(prompt);
            runtime.set_prompt(prompt);
        }
        Ok((load, runtime))
    }

    /// Changes one runtime parameter between calls. Load-time parameters are
    /// refused: they can only be given when the pipeline is constructed.
    pub fn update_runtime(
        &self,
        runtime: &mut Params,
        key: &str,
        value: Value,
    ) -> Result<(), ParamError> {
        let param = self.param_or_error(key)?;
        if param.is_load_param() {
            return Err(self.error(key, ParamErrorKind::LoadTimeAtRuntime));
        }
        if !param.applies_in(runtime.mode()) {
            let mode = runtime.mode();
            return Err(self.error(key, ParamErrorKind::WrongMode { mode }));
        }
        param.check(&value).map_err(|kind| self.error(key, kind))?;
        runtime.insert(key, value);
        Ok(())
    }

    fn param_or_error(&self, key: &str) -> Result<&Param, ParamError> {
        self.find_param(key).ok_or_else(|| {
            let known = self.params.iter().map(|p| p.key().to_owned()).collect();
            self.error(key, ParamErrorKind::Unknown { known })
        })
    }

    fn error(&self, key: &str, kind: ParamErrorKind) -> ParamError {
        ParamError::new(&self.id, key, kind)
    }

    /// The schema as JSON: identity, modes and every parameter.
    pub fn to_json(&self) -> Json {
        Json::object([
            ("id", Json::str(&self.id)),
            ("name", Json::str(&self.name)),
            ("description", Json::str(&self.description)),
            ("supports_prompts", Json::Bool(self.supports_prompts)),
            (
                "modes",
                Json::Array(self.modes.iter().map(|m| Json::str(m.as_str())).collect()),
            ),
            ("default_mode", Json::str(self.default_mode.as_str())),
            (
                "changes_frame_count",
                Json::Bool(self.frame_count_changes()),
            ),
            (
                "frames_out_per_in",
                match self.frames_out_per_in {
                    Some((out, per)) => {
                        Json::Array(vec![Json::Int(out.into()), Json::Int(per.into())])
                    }
                    None => Json::Null,
                },
            ),
            (
                "params",
                Json::Array(self.params.iter().map(Param::to_json).collect()),
            ),
        ])
    }
}

/// Whether `id` is a valid pipeline id: `[a-z0-9][a-z0-9-]*`.
pub(crate) fn is_valid_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invert() -> PipelineConfig {
        PipelineConfig::new("invert", "Invert")
            .param(Param::float("intensity", 1.0).range(0.0, 1.0))
            .param(Param::integer("seed", 0).load_param())
            .param(Param::choice("look", &["warm", "cold"], "warm").modes(&[Mode::Video]))
    }

    #[test]
    fn ids_follow_the_pattern() {
        for good in ["invert", "a", "9-lives", "x-y-z"] {
            assert!(is_valid_id(good), "{good}");
        }
        for bad in ["", "-x", "Invert", "a_b", "a.b", "a b", "ü"] {
            assert!(!is_valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn resolve_routes_load_time_and_runtime_values_and_fills_defaults() {
        let given = vec![("seed".to_owned(), Value::Integer(7))];
        let (load, runtime) = invert().resolve(Mode::Video, &given, None).unwrap();
        assert_eq!(load.int("seed"), 7);
        assert_eq!(load.get("intensity"), None);
        assert_eq!(runtime.float("intensity"), 1.0);
        assert_eq!(runtime.str("look"), "warm");
        assert_eq!(runtime.get("seed"), None);
    }

    #[test]
    fn resolve_refuses_out_of_range_values_naming_the_range() {
        let given = vec![("intensity".to_owned(), Value::Float(7.0))];
        let err = invert().resolve(Mode::Video, &given, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pipeline `invert`: `intensity` must be between 0.0 and 1.0, got 7.0"
        );
    }

    #[test]
    fn unknown_keys_list_the_known_ones() {
        let err = invert().parse_value("intensty", "1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "pipeline `invert` has no parameter `intensty`; its parameters are `intensity`, `seed`, `look`"
        );
    }

    #[test]
    fn mistyped_values_are_refused() {
        let err = invert().parse_value("seed", "seven").unwrap_err();
        assert_eq!(
            err.to_string(),
            "pipeline `invert`: `seed` must be an integer, got `seven`"
        );
        let err = invert().parse_value("look", "hot").unwrap_err();
        assert_eq!(
            err.to_string(),
            "pipeline `invert`: `look` must be one of `warm`, `cold`, got `hot`"
        );
    }

    #[test]
    fn load_time_parameters_cannot_change_at_runtime() {
        let config = invert();
        let (_, mut runtime) = config.resolve(Mode::Video, &[], None).unwrap();
        let err = config
            .update_runtime(&mut runtime, "seed", Value::Integer(3))
            .unwrap_err();
        assert!(err.to_string().contains("load-time parameter"), "{err}");
        config
            .update_runtime(&mut runtime, "intensity", Value::Float(0.25))
            .unwrap();
        assert_eq!(runtime.float("intensity"), 0.25);
    }

    #[test]
    fn parameters_of_another_mode_are_refused() {
        let config = invert().modes(&[Mode::Text, Mode::Video], Mode::Video);
        let given = vec![("look".to_owned(), Value::String("cold".into()))];
        let err = config.resolve(Mode::Text, &given, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pipeline `invert`: `look` does not apply in text mode"
        );
    }

    #[test]
    fn validate_catches_bad_declarations() {
        let bad_default =
            PipelineConfig::new("x", "X").param(Param::integer("n", 300).range(0, 255));
        assert!(bad_default.validate().unwrap_err().contains("default 300"));
        let twice = PipelineConfig::new("x", "X")
            .param(Param::bool("a", true))
            .param(Param::bool("a", false));
        assert!(twice.validate().unwrap_err().contains("declared twice"));
        let mode = PipelineConfig::new("x", "X").modes(&[Mode::Video], Mode::Text);
        assert!(mode.validate().unwrap_err().contains("default mode"));
        let ratio = PipelineConfig::new("x", "X").changes_frame_count(0, 1);
        assert!(ratio.validate().unwrap_err().contains("at least 1"));
        assert!(invert().validate().is_ok());
    }
}
