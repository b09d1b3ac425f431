//! The registry: tenants → sources → file rules, written by the data platform team as
//! YAML or JSON, loaded with positioned errors ([`Registry::load_path`]), checked as a
//! whole ([`Registry::validate`]) and turned into the engine's spec per rule
//! ([`Rule::validation_spec`]).
//!
//! Secrets appear only as references ([`SecretRef`]); a JSON Schema for editors is
//! generated from these types ([`registry_json_schema`], committed at
//! `docs/registry.schema.json`). The annotated example lives at `examples/registry.yaml`.
//!
//! # Files
//! - `model.rs`: the serde types and their defaults; [`Rule::validation_spec`].
//! - `secret.rs`: [`SecretRef`], which never holds a secret.
//! - `path_match.rs`: compiling a rule's glob/regex into a [`PathMatcher`].
//! - `load.rs`: parsing YAML/JSON with file, line and column in errors.
//! - `validate.rs`: every problem at once, as `path: message`.
//! - `schema.rs`: the JSON Schema.

mod load;
mod model;
mod path_match;
mod reference;
mod schema;
mod secret;
mod validate;

pub use load::{LoadError, MAX_REGISTRY_BYTES, Syntax};
pub use model::{
    AsciiChar, ID_PATTERN, NotifyPolicy, PathMatch, PostAction, Protocol, Quote, Registry, Rule,
    Sla, Source, Stability, Tenant, TlsOptions,
};
pub use path_match::{PathMatcher, PatternError};
pub use reference::registry_reference_markdown;
pub use schema::registry_json_schema;
pub use secret::SecretRef;
pub use validate::{MAX_CONNECTIONS, Problem, REGISTRY_VERSION, check_id, parse_cron};

impl Registry {
    /// The rule with this id, with its tenant and source.
    pub fn find_rule(&self, rule_id: &str) -> Option<(&Tenant, &Source, &Rule)> {
        self.tenants.iter().find_map(|tenant| {
            tenant.sources.iter().find_map(|source| {
                source
                    .rules
                    .iter()
                    .find(|rule| rule.id == rule_id)
                    .map(|rule| (tenant, source, rule))
            })
        })
    }

    /// The source with this id, with its tenant.
    pub fn find_source(&self, source_id: &str) -> Option<(&Tenant, &Source)> {
        self.tenants.iter().find_map(|tenant| {
            tenant
                .sources
                .iter()
                .find(|source| source.id == source_id)
                .map(|source| (tenant, source))
        })
    }
}

#[cfg(test)]
mod tests;
