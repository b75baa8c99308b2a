//! Why a version cannot be chosen, in one sentence.

use std::fmt;

use semver::{Version, VersionReq};

/// Who asked for a requirement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Requirer {
    /// The user, in `plugins.toml`.
    User,
    /// Another plugin, at the version chosen for it.
    Plugin {
        /// Its name.
        name: String,
        /// Its version.
        version: Version,
    },
}

impl fmt::Display for Requirer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirer::User => f.write_str("plugins.toml"),
            Requirer::Plugin { name, version } => write!(f, "{name} {version}"),
        }
    }
}

/// A requirement on a plugin and who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Who asked.
    pub by: Requirer,
    /// What they asked for.
    pub req: VersionReq,
}

/// The reason a particular version of `plugin` cannot be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    /// A requirement on the plugin does not match the version.
    Requirement {
        /// The plugin.
        plugin: String,
        /// The version it excludes.
        version: Version,
        /// The requirement and who made it.
        requirement: Requirement,
    },
    /// The version needs another plugin API than the host's.
    Api {
        /// The plugin.
        plugin: String,
        /// Its version.
        version: Version,
        /// Its `scope-plugin-api` requirement.
        req: VersionReq,
        /// The host's API version.
        host: Version,
    },
    /// The version conflicts with a plugin that is installed.
    Conflict {
        /// The plugin.
        plugin: String,
        /// Its version.
        version: Version,
        /// The installed plugin it conflicts with.
        with: String,
        /// Which of the two declares the conflict.
        declared_by: String,
    },
    /// The version needs another plugin at a version that is not chosen.
    Needs {
        /// The plugin.
        plugin: String,
        /// Its version.
        version: Version,
        /// The plugin it needs.
        dependency: String,
        /// The requirement.
        req: VersionReq,
        /// The version chosen for the dependency.
        chosen: Version,
    },
    /// The version was yanked.
    Yanked {
        /// The plugin.
        plugin: String,
        /// Its version.
        version: Version,
    },
    /// The version is no longer offered by its source.
    Missing {
        /// The plugin.
        plugin: String,
        /// Its version.
        version: Version,
    },
    /// Only a longer chain of reasons explains it: the resolver's report.
    Unsolvable {
        /// The report, in sentences.
        report: String,
    },
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Constraint::Requirement {
                plugin,
                version,
                requirement,
            } => write!(
                f,
                "{} requires {plugin} {}, which {version} does not match",
                requirement.by, requirement.req
            ),
            Constraint::Api {
                plugin,
                version,
                req,
                host,
            } => write!(
                f,
                "{plugin} {version} needs {} {req}; this host provides {host}",
                crate::API_CRATE
            ),
            Constraint::Conflict {
                plugin,
                version,
                with,
                declared_by,
            } if declared_by == plugin => {
                write!(
                    f,
                    "{plugin} {version} conflicts with {with}, which is installed"
                )
            }
            Constraint::Conflict { plugin, with, .. } => {
                write!(f, "{with}, which is installed, conflicts with {plugin}")
            }
            Constraint::Needs {
                plugin,
                version,
                dependency,
                req,
                chosen,
            } => write!(
                f,
                "{plugin} {version} needs {dependency} {req}, but {dependency} stays at {chosen}"
            ),
            Constraint::Yanked { plugin, version } => write!(f, "{plugin} {version} was yanked"),
            Constraint::Missing { plugin, version } => {
                write!(f, "{plugin} {version} is no longer offered by its source")
            }
            Constraint::Unsolvable { report } => f.write_str(report),
        }
    }
}
