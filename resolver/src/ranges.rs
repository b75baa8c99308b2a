//! Semver requirements as version ranges, with cargo's meaning.
//!
//! `version-ranges`' own conversion is looser than cargo's matching, so the
//! mapping is written out here: caret, tilde, wildcard, comparators, comma
//! lists and `=`, with `0.x` carets as cargo reads them. Computed upper bounds
//! stop below the next version's pre-releases (`^1.2` is `>=1.2.0, <2.0.0-0`),
//! as cargo never matches `2.0.0-alpha` against `^1.2`.
//!
//! Pre-releases are not filtered here: whether a plugin's pre-releases are
//! candidates at all is decided once, before solving (see the provider).
//! Per-requirement filtering inside the ranges would make the solver's set
//! algebra inconsistent.

use pubgrub::Ranges;
use semver::{Comparator, Op, Prerelease, Version, VersionReq};

/// The versions a requirement matches.
pub fn req_to_ranges(req: &VersionReq) -> Ranges<Version> {
    req.comparators.iter().fold(Ranges::full(), |acc, c| {
        acc.intersection(&comparator_to_ranges(c))
    })
}

fn version(major: u64, minor: u64, patch: u64, pre: &Prerelease) -> Version {
    Version {
        major,
        minor,
        patch,
        pre: pre.clone(),
        build: semver::BuildMetadata::EMPTY,
    }
}

/// `major.minor.patch-0`: below every pre-release of that version.
fn floor(major: u64, minor: u64, patch: u64) -> Version {
    version(
        major,
        minor,
        patch,
        &Prerelease::new("0").expect("a valid pre-release"),
    )
}

fn comparator_to_ranges(c: &Comparator) -> Ranges<Version> {
    let major = c.major;
    let (minor, patch) = (c.minor, c.patch);
    let lower = version(major, minor.unwrap_or(0), patch.unwrap_or(0), &c.pre);
    match c.op {
        Op::Exact => match (minor, patch) {
            (Some(_), Some(_)) => Ranges::singleton(lower),
            (Some(mi), None) => Ranges::between(lower, floor(major, mi + 1, 0)),
            _ => Ranges::between(lower, floor(major + 1, 0, 0)),
        },
        Op::Greater => match (minor, patch) {
            (Some(_), Some(_)) => Ranges::strictly_higher_than(lower),
            (Some(mi), None) => Ranges::higher_than(version(major, mi + 1, 0, &Prerelease::EMPTY)),
            _ => Ranges::higher_than(version(major + 1, 0, 0, &Prerelease::EMPTY)),
        },
        Op::GreaterEq => Ranges::higher_than(lower),
        Op::Less => Ranges::strictly_lower_than(match (minor, patch) {
            (Some(_), Some(_)) => lower,
            _ => floor(major, minor.unwrap_or(0), 0),
        }),
        Op::LessEq => match (minor, patch) {
            (Some(_), Some(_)) => Ranges::lower_than(lower),
            (Some(mi), None) => Ranges::strictly_lower_than(floor(major, mi + 1, 0)),
            _ => Ranges::strictly_lower_than(floor(major + 1, 0, 0)),
        },
        Op::Tilde => match minor {
            Some(mi) => Ranges::between(lower, floor(major, mi + 1, 0)),
            None => Ranges::between(lower, floor(major + 1, 0, 0)),
        },
        Op::Wildcard => match minor {
            Some(mi) => Ranges::between(lower, floor(major, mi + 1, 0)),
            None => Ranges::between(lower, floor(major + 1, 0, 0)),
        },
        // Caret, and anything a later semver adds: the leftmost non-zero
        // component must stay the same.
        _ => {
            let upper = match (minor, patch) {
                _ if major > 0 => floor(major + 1, 0, 0),
                (Some(mi), _) if mi > 0 => floor(0, mi + 1, 0),
                (Some(0), Some(pa)) => floor(0, 0, pa + 1),
                (Some(0), None) => floor(0, 1, 0),
                _ => floor(1, 0, 0),
            };
            Ranges::between(lower, upper)
        }
    }
}

/// Whether a requirement names a pre-release (`^2.0.0-beta.1`).
pub fn names_prerelease(req: &VersionReq) -> bool {
    req.comparators.iter().any(|c| !c.pre.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    /// For release versions, the ranges agree with semver's own matching.
    #[test]
    fn agrees_with_cargo_matching_on_releases() {
        let reqs = [
            "^1.2.3",
            "^1.2",
            "^1",
            "^0.2.3",
            "^0.2",
            "^0.0.3",
            "^0.0",
            "^0",
            "~1.2.3",
            "~1.2",
            "~1",
            "~0.2",
            "1.*",
            "1.2.*",
            "*",
            "=1.2.3",
            "=1.2",
            "=1",
            ">1.2.3",
            ">1.2",
            ">1",
            ">=1.2.3",
            ">=1.2",
            "<1.2.3",
            "<1.2",
            "<1",
            "<=1.2.3",
            "<=1.2",
            "<=1",
            ">=1.2, <1.5",
            "0.3",
            "1.2.3",
        ];
        let mut versions = Vec::new();
        for major in 0..3 {
            for minor in 0..4 {
                for patch in 0..5 {
                    versions.push(Version::new(major, minor, patch));
                }
            }
        }
        for req in reqs {
            let parsed = VersionReq::parse(req).unwrap();
            let ranges = req_to_ranges(&parsed);
            for version in &versions {
                assert_eq!(
                    ranges.contains(version),
                    parsed.matches(version),
                    "`{req}` and {version}: ranges {ranges}"
                );
            }
        }
    }

    #[test]
    fn computed_upper_bounds_exclude_the_next_versions_prereleases() {
        let caret = req_to_ranges(&VersionReq::parse("^1.2").unwrap());
        assert!(!caret.contains(&v("2.0.0-alpha.1")));
        assert!(caret.contains(&v("1.9.0")));
        let explicit = req_to_ranges(&VersionReq::parse("^2.0.0-beta.1").unwrap());
        assert!(explicit.contains(&v("2.0.0-beta.2")));
        assert!(explicit.contains(&v("2.0.0")));
        assert!(!explicit.contains(&v("2.0.0-alpha")));
        assert!(names_prerelease(
            &VersionReq::parse("^2.0.0-beta.1").unwrap()
        ));
        assert!(!names_prerelease(&VersionReq::parse("^2.0.0").unwrap()));
    }
}
