use std::collections::BTreeMap;
use std::fmt;

use crate::config::Mode;
use crate::json::Json;

/// A parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A floating-point number.
    Float(f64),
    /// A string; also the value of a choice.
    String(String),
}

impl Value {
    fn to_json(&self) -> Json {
        match self {
            Value::Bool(b) => Json::Bool(*b),
            Value::Integer(i) => Json::Int(*i),
            Value::Float(x) => Json::Float(*x),
            Value::String(s) => Json::str(s),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::String(s) => f.write_str(s),
        }
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::Integer(value)
    }
}

impl From<i32> for Value {
    fn from(value: i32) -> Self {
        Value::Integer(value.into())
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Value::Float(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::String(value.to_owned())
    }
}

/// The type of a parameter, with its bounds or options.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamKind {
    /// `true` / `false`.
    Bool,
    /// An integer within optional inclusive bounds.
    Integer {
        /// Smallest allowed value.
        min: Option<i64>,
        /// Largest allowed value.
        max: Option<i64>,
    },
    /// A float within optional inclusive bounds.
    Float {
        /// Smallest allowed value.
        min: Option<f64>,
        /// Largest allowed value.
        max: Option<f64>,
    },
    /// Free text.
    String,
    /// One of a fixed list of strings.
    Choice {
        /// The allowed values, in display order.
        options: Vec<String>,
    },
}

impl ParamKind {
    fn name(&self) -> &'static str {
        match self {
            ParamKind::Bool => "bool",
            ParamKind::Integer { .. } => "integer",
            ParamKind::Float { .. } => "float",
            ParamKind::String => "string",
            ParamKind::Choice { .. } => "choice",
        }
    }
}

/// Where a UI shows a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// The settings panel (the default).
    Configuration,
    /// The input and controls panel.
    Input,
}

impl Category {
    fn as_str(self) -> &'static str {
        match self {
            Category::Configuration => "configuration",
            Category::Input => "input",
        }
    }
}

/// A typed parameter declaration: key, type, default, bounds, description
/// and UI hints.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    key: String,
    kind: ParamKind,
    default: Value,
    description: String,
    label: Option<String>,
    order: Option<i32>,
    modes: Vec<Mode>,
    is_load_param: bool,
    category: Category,
    // A builder call that did not fit the type (e.g. float bounds on an
    // integer); reported when the pipeline is registered.
    misuse: Option<String>,
}

impl Param {
    fn new(key: impl Into<String>, kind: ParamKind, default: Value) -> Self {
        Param {
            key: key.into(),
            kind,
            default,
            description: String::new(),
            label: None,
            order: None,
            modes: Vec::new(),
            is_load_param: false,
            category: Category::Configuration,
            misuse: None,
        }
    }

    /// A boolean parameter.
    pub fn bool(key: impl Into<String>, default: bool) -> Self {
        Param::new(key, ParamKind::Bool, Value::Bool(default))
    }

    /// An integer parameter; bound it with [`Param::range`].
    pub fn integer(key: impl Into<String>, default: i64) -> Self {
        let kind = ParamKind::Integer {
            min: None,
            max: None,
        };
        Param::new(key, kind, Value::Integer(default))
    }

    /// A float parameter; bound it with [`Param::range`].
    pub fn float(key: impl Into<String>, default: f64) -> Self {
        let kind = ParamKind::Float {
            min: None,
            max: None,
        };
        Param::new(key, kind, Value::Float(default))
    }

    /// A free-text parameter.
    pub fn string(key: impl Into<String>, default: &str) -> Self {
        Param::new(key, ParamKind::String, Value::from(default))
    }

    /// A parameter that takes one of `options`.
    pub fn choice(key: impl Into<String>, options: &[&str], default: &str) -> Self {
        let options = options.iter().map(|o| (*o).to_owned()).collect();
        Param::new(key, ParamKind::Choice { options }, Value::from(default))
    }

    /// Inclusive bounds for an integer or float parameter.
    pub fn range(mut self, min: impl Into<Value>, max: impl Into<Value>) -> Self {
        match (&mut self.kind, min.into(), max.into()) {
            (ParamKind::Integer { min, max }, Value::Integer(lo), Value::Integer(hi)) => {
                (*min, *max) = (Some(lo), Some(hi));
            }
            (ParamKind::Float { min, max }, lo, hi) => match (as_f64(&lo), as_f64(&hi)) {
                (Some(lo), Some(hi)) => (*min, *max) = (Some(lo), Some(hi)),
                _ => self.misuse = Some("its bounds must be numbers".into()),
            },
            (kind, _, _) => {
                self.misuse = Some(format!(
                    "a {} parameter takes no numeric bounds of that type",
                    kind.name()
                ));
            }
        }
        self
    }

    /// The description (a UI shows it as the tooltip).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// A short label for a UI.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Display order in a UI; lower comes first.
    pub fn order(mut self, order: i32) -> Self {
        self.order = Some(order);
        self
    }

    /// Restricts the parameter to these modes (by default it applies in all).
    pub fn modes(mut self, modes: &[Mode]) -> Self {
        self.modes = modes.to_vec();
        self
    }

    /// Makes this a load-time parameter: given when the pipeline is
    /// constructed, fixed while it runs.
    pub fn load_param(mut self) -> Self {
        self.is_load_param = true;
        self
    }

    /// Where a UI shows the parameter.
    pub fn category(mut self, category: Category) -> Self {
        self.category = category;
        self
    }

    /// The key users write in `--set KEY=VALUE`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The type and its bounds.
    pub fn kind(&self) -> &ParamKind {
        &self.kind
    }

    /// The default value.
    pub fn default_value(&self) -> &Value {
        &self.default
    }

    /// Whether this is a load-time parameter.
    pub fn is_load_param(&self) -> bool {
        self.is_load_param
    }

    /// The modes the parameter is restricted to; empty means all.
    pub fn modes_list(&self) -> &[Mode] {
        &self.modes
    }

    pub(crate) fn applies_in(&self, mode: Mode) -> bool {
        self.modes.is_empty() || self.modes.contains(&mode)
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if let Some(misuse) = &self.misuse {
            return Err(misuse.clone());
        }
        let mut bytes = self.key.bytes();
        let key_ok = matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
            && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'));
        if !key_ok {
            return Err(
                "keys use lowercase letters, digits and `_`, starting with a letter".into(),
            );
        }
        match &self.kind {
            ParamKind::Integer {
                min: Some(lo),
                max: Some(hi),
            } if lo > hi => return Err(format!("its minimum {lo} is above its maximum {hi}")),
            ParamKind::Float {
                min: Some(lo),
                max: Some(hi),
            } if lo > hi || lo.is_nan() || hi.is_nan() => {
                return Err(format!("its bounds {lo:?}..{hi:?} are empty"));
            }
            ParamKind::Choice { options } if options.is_empty() => {
                return Err("a choice needs at least one option".into());
            }
            _ => {}
        }
        self.check(&self.default).map_err(|kind| {
            format!(
                "its default {} is invalid: {}",
                self.default,
                kind.describe(&self.key)
            )
        })
    }

    /// Parses a value as a user wrote it.
    pub(crate) fn parse(&self, raw: &str) -> Result<Value, ParamErrorKind> {
        let wrong_type = || ParamErrorKind::WrongType {
            expected: self.kind.name(),
            got: raw.to_owned(),
        };
        let value = match &self.kind {
            ParamKind::Bool => match raw {
                "true" | "1" | "yes" | "on" => Value::Bool(true),
                "false" | "0" | "no" | "off" => Value::Bool(false),
                _ => return Err(wrong_type()),
            },
            ParamKind::Integer { .. } => {
                Value::Integer(raw.trim().parse().map_err(|_| wrong_type())?)
            }
            ParamKind::Float { .. } => {
                let x: f64 = raw.trim().parse().map_err(|_| wrong_type())?;
                if !x.is_finite() {
                    return Err(wrong_type());
                }
                Value::Float(x)
            }
            ParamKind::String | ParamKind::Choice { .. } => Value::String(raw.to_owned()),
        };
        self.check(&value)?;
        Ok(value)
    }

    /// Checks a value against the type and bounds.
    pub(crate) fn check(&self, value: &Value) -> Result<(), ParamErrorKind> {
        let out_of_range = |min: String, max: String| ParamErrorKind::OutOfRange {
            min,
            max,
            got: value.to_string(),
        };
        let show = |b: Option<String>| b.unwrap_or_else(|| "unbounded".into());
        match (&self.kind, value) {
            (ParamKind::Bool, Value::Bool(_)) | (ParamKind::String, Value::String(_)) => Ok(()),
            (ParamKind::Integer { min, max }, Value::Integer(v)) => {
                if min.is_some_and(|lo| *v < lo) || max.is_some_and(|hi| *v > hi) {
                    return Err(out_of_range(
                        show(min.map(|x| x.to_string())),
                        show(max.map(|x| x.to_string())),
                    ));
                }
                Ok(())
            }
            (ParamKind::Float { min, max }, Value::Float(_) | Value::Integer(_)) => {
                let v = as_f64(value).unwrap_or(f64::NAN);
                if !v.is_finite() || min.is_some_and(|lo| v < lo) || max.is_some_and(|hi| v > hi) {
                    return Err(out_of_range(
                        show(min.map(|x| format!("{x:?}"))),
                        show(max.map(|x| format!("{x:?}"))),
                    ));
                }
                Ok(())
            }
            (ParamKind::Choice { options }, Value::String(s)) => {
                if options.iter().any(|o| o == s) {
                    Ok(())
                } else {
                    Err(ParamErrorKind::NotAChoice {
                        options: options.clone(),
                        got: s.clone(),
                    })
                }
            }
            (kind, value) => Err(ParamErrorKind::WrongType {
                expected: kind.name(),
                got: value.to_string(),
            }),
        }
    }

    pub(crate) fn to_json(&self) -> Json {
        let (min, max, options) = match &self.kind {
            ParamKind::Integer { min, max } => (min.map(Json::Int), max.map(Json::Int), None),
            ParamKind::Float { min, max } => (min.map(Json::Float), max.map(Json::Float), None),
            ParamKind::Choice { options } => (
                None,
                None,
                Some(Json::Array(options.iter().map(Json::str).collect())),
            ),
            ParamKind::Bool | ParamKind::String => (None, None, None),
        };
        let modes = Json::Array(self.modes.iter().map(|m| Json::str(m.as_str())).collect());
        Json::object([
            ("key", Json::str(&self.key)),
            ("type", Json::str(self.kind.name())),
            ("default", self.default.to_json()),
            ("min", min.into()),
            ("max", max.into()),
            ("options", options.into()),
            ("description", Json::str(&self.description)),
            (
                "ui",
                Json::object([
                    ("order", self.order.map(|o| Json::Int(o.into())).into()),
                    ("modes", modes),
                    ("is_load_param", Json::Bool(self.is_load_param)),
                    ("label", self.label.as_deref().map(Json::str).into()),
                    ("category", Json::str(self.category.as_str())),
                ]),
            ),
        ])
    }
}

fn as_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(x) => Some(*x),
        _ => None,
    }
}

/// The parameter values a pipeline receives: at load time, or on every call.
/// Every parameter the config declares for the running mode is present.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    mode: Mode,
    values: BTreeMap<String, Value>,
    prompt: Option<String>,
}

impl Params {
    /// No values, in `mode`; the host fills them from the schema.
    pub fn empty(mode: Mode) -> Self {
        Params {
            mode,
            values: BTreeMap::new(),
            prompt: None,
        }
    }

    /// Sets a value. The host validates values before they get here.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        self.values.insert(key.into(), value);
    }

    /// Sets the prompt.
    pub fn set_prompt(&mut self, prompt: impl Into<String>) {
        self.prompt = Some(prompt.into());
    }

    /// The mode the pipeline runs in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The prompt, for pipelines that support prompts and when one was given.
    pub fn prompt(&self) -> Option<&str> {
        self.prompt.as_deref()
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// Every value, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// A boolean parameter.
    ///
    /// # Panics
    /// When the pipeline's config declares no boolean `key` for this mode:
    /// that is a bug in the plugin, and the host reports it as one.
    pub fn bool(&self, key: &str) -> bool {
        match self.get(key) {
            Some(Value::Bool(b)) => *b,
            other => self.missing(key, "bool", other),
        }
    }

    /// An integer parameter. Panics like [`Params::bool`].
    pub fn int(&self, key: &str) -> i64 {
        match self.get(key) {
            Some(Value::Integer(i)) => *i,
            other => self.missing(key, "integer", other),
        }
    }

    /// A float parameter (an integer value is widened). Panics like [`Params::bool`].
    pub fn float(&self, key: &str) -> f64 {
        match self.get(key) {
            Some(Value::Float(x)) => *x,
            Some(Value::Integer(i)) => *i as f64,
            other => self.missing(key, "float", other),
        }
    }

    /// A string or choice parameter. Panics like [`Params::bool`].
    pub fn str(&self, key: &str) -> &str {
        match self.get(key) {
            Some(Value::String(s)) => s,
            other => self.missing(key, "string", other),
        }
    }

    fn missing(&self, key: &str, wanted: &str, found: Option<&Value>) -> ! {
        match found {
            None => panic!(
                "the pipeline read parameter `{key}`, which its config does not declare for {} mode",
                self.mode
            ),
            Some(value) => panic!("the pipeline read parameter `{key}` as {wanted}, but it holds {value:?}"),
        }
    }
}

/// A parameter value refused against a pipeline's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamError {
    pipeline: String,
    key: String,
    kind: ParamErrorKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParamErrorKind {
    Unknown {
        known: Vec<String>,
    },
    WrongType {
        expected: &'static str,
        got: String,
    },
    OutOfRange {
        min: String,
        max: String,
        got: String,
    },
    NotAChoice {
        options: Vec<String>,
        got: String,
    },
    LoadTimeAtRuntime,
    WrongMode {
        mode: Mode,
    },
}

impl ParamErrorKind {
    fn describe(&self, key: &str) -> String {
        match self {
            ParamErrorKind::Unknown { .. } => format!("no parameter `{key}`"),
            ParamErrorKind::WrongType { expected, got } => {
                let article = if *expected == "integer" { "an" } else { "a" };
                format!("`{key}` must be {article} {expected}, got `{got}`")
            }
            ParamErrorKind::OutOfRange { min, max, got } => {
                format!("`{key}` must be between {min} and {max}, got {got}")
            }
            ParamErrorKind::NotAChoice { options, got } => {
                let options: Vec<String> = options.iter().map(|o| format!("`{o}`")).collect();
                format!("`{key}` must be one of {}, got `{got}`", options.join(", "))
            }
            ParamErrorKind::LoadTimeAtRuntime => format!(
                "`{key}` is a load-time parameter: it is given when the pipeline loads and cannot change while it runs"
            ),
            ParamErrorKind::WrongMode { mode } => format!("`{key}` does not apply in {mode} mode"),
        }
    }
}

impl ParamError {
    pub(crate) fn new(pipeline: &str, key: &str, kind: ParamErrorKind) -> Self {
        ParamError {
            pipeline: pipeline.to_owned(),
            key: key.to_owned(),
            kind,
        }
    }

    /// The pipeline whose schema refused the value.
    pub fn pipeline(&self) -> &str {
        &self.pipeline
    }

    /// The parameter key as given.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ParamErrorKind::Unknown { known } if known.is_empty() => write!(
                f,
                "pipeline `{}` has no parameter `{}`; it takes no parameters",
                self.pipeline, self.key
            ),
            ParamErrorKind::Unknown { known } => {
                let known: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                write!(
                    f,
                    "pipeline `{}` has no parameter `{}`; its parameters are {}",
                    self.pipeline,
                    self.key,
                    known.join(", ")
                )
            }
            kind => write!(
                f,
                "pipeline `{}`: {}",
                self.pipeline,
                kind.describe(&self.key)
            ),
        }
    }
}

impl std::error::Error for ParamError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_type() {
        assert_eq!(Param::bool("b", false).parse("yes"), Ok(Value::Bool(true)));
        assert_eq!(Param::integer("i", 0).parse("-4"), Ok(Value::Integer(-4)));
        assert_eq!(Param::float("f", 0.0).parse("0.5"), Ok(Value::Float(0.5)));
        assert_eq!(Param::string("s", "").parse("a b"), Ok(Value::from("a b")));
        assert!(Param::float("f", 0.0).parse("inf").is_err());
        assert!(Param::bool("b", false).parse("maybe").is_err());
    }

    #[test]
    fn integer_bounds_are_inclusive() {
        let p = Param::integer("c", 128).range(0, 255);
        assert!(p.parse("0").is_ok());
        assert!(p.parse("255").is_ok());
        assert!(p.parse("256").is_err());
        assert!(p.parse("-1").is_err());
    }

    #[test]
    fn misused_builders_are_reported_at_validation() {
        let p = Param::integer("n", 1).range(0.0, 1.5);
        assert!(p.validate().is_err());
        let p = Param::bool("b", true).range(0, 1);
        assert!(p.validate().unwrap_err().contains("bool"));
    }

    #[test]
    fn schema_json_has_bounds_and_ui_hints() {
        let p = Param::integer("color_r", 128)
            .range(0, 255)
            .label("Red")
            .order(1)
            .modes(&[Mode::Text])
            .category(Category::Input);
        assert_eq!(
            p.to_json().to_string(),
            r#"{"key":"color_r","type":"integer","default":128,"min":0,"max":255,"options":null,"description":"","ui":{"order":1,"modes":["text"],"is_load_param":false,"label":"Red","category":"input"}}"#
        );
    }

    #[test]
    #[should_panic(expected = "does not declare")]
    fn reading_an_undeclared_parameter_panics_with_a_clear_message() {
        Params::empty(Mode::Video).float("nope");
    }
}
