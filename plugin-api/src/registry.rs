use std::fmt;

use crate::{Error, Load, Pipeline, PipelineConfig};

type LoadFn = fn(&Load) -> Result<Box<dyn Pipeline>, Error>;

/// A registered pipeline type: its config and a way to construct it.
pub struct PipelineEntry {
    config: PipelineConfig,
    load: LoadFn,
}

impl PipelineEntry {
    /// The pipeline's config.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Constructs a pipeline of this type.
    pub fn load(&self, load: &Load) -> Result<Box<dyn Pipeline>, Error> {
        (self.load)(load)
    }
}

impl fmt::Debug for PipelineEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineEntry")
            .field("id", &self.config.id())
            .finish_non_exhaustive()
    }
}

/// Why a pipeline type was not registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterError {
    /// Its config is invalid (bad id, bad parameter declaration, …).
    InvalidConfig {
        /// The id as declared.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// Another pipeline type already uses this id.
    DuplicateId {
        /// The id.
        id: String,
    },
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::InvalidConfig { id, reason } => {
                write!(f, "pipeline `{id}` is invalid: {reason}")
            }
            RegisterError::DuplicateId { id } => {
                write!(f, "pipeline id `{id}` is registered twice")
            }
        }
    }
}

impl std::error::Error for RegisterError {}

/// Where a plugin registers its pipeline types. Invalid and duplicate
/// registrations are refused and remembered, so the host can report them
/// even when the plugin ignores the result.
#[derive(Debug, Default)]
pub struct Registry {
    pipelines: Vec<PipelineEntry>,
    errors: Vec<RegisterError>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Registers pipeline type `P`; a refusal is remembered in
    /// [`Registry::errors`].
    pub fn register<P: Pipeline + 'static>(&mut self) {
        if let Err(err) = self.try_register::<P>() {
            self.errors.push(err);
        }
    }

    /// Registers pipeline type `P`, or says why not.
    pub fn try_register<P: Pipeline + 'static>(&mut self) -> Result<(), RegisterError> {
        let config = P::config();
        config
            .validate()
            .map_err(|reason| RegisterError::InvalidConfig {
                id: config.id().to_owned(),
                reason,
            })?;
        if self.pipelines.iter().any(|p| p.config.id() == config.id()) {
            return Err(RegisterError::DuplicateId {
                id: config.id().to_owned(),
            });
        }
        self.pipelines.push(PipelineEntry {
            config,
            load: load_boxed::<P>,
        });
        Ok(())
    }

    /// The registered pipeline types, in registration order.
    pub fn pipelines(&self) -> &[PipelineEntry] {
        &self.pipelines
    }

    /// The registrations that were refused.
    pub fn errors(&self) -> &[RegisterError] {
        &self.errors
    }

    /// Both lists, owned.
    pub fn into_parts(self) -> (Vec<PipelineEntry>, Vec<RegisterError>) {
        (self.pipelines, self.errors)
    }
}

fn load_boxed<P: Pipeline + 'static>(load: &Load) -> Result<Box<dyn Pipeline>, Error> {
    Ok(Box::new(P::load(load)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Frame, Params};

    macro_rules! pipeline {
        ($name:ident, $id:expr) => {
            struct $name;
            impl Pipeline for $name {
                fn config() -> PipelineConfig {
                    PipelineConfig::new($id, stringify!($name))
                }
                fn load(_: &Load) -> Result<Self, Error> {
                    Ok($name)
                }
                fn process(&mut self, input: Vec<Frame>, _: &Params) -> Result<Vec<Frame>, Error> {
                    Ok(input)
                }
            }
        };
    }

    pipeline!(First, "same");
    pipeline!(Second, "same");
    pipeline!(BadId, "Bad_Id");

    #[test]
    fn refuses_duplicate_and_invalid_ids_and_remembers_why() {
        let mut registry = Registry::new();
        registry.register::<First>();
        registry.register::<Second>();
        registry.register::<BadId>();
        assert_eq!(registry.pipelines().len(), 1);
        let errors: Vec<String> = registry.errors().iter().map(ToString::to_string).collect();
        assert_eq!(errors[0], "pipeline id `same` is registered twice");
        assert!(errors[1]
            .starts_with("pipeline `Bad_Id` is invalid: `Bad_Id` is not a valid pipeline id"));
    }
}
