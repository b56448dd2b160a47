//! The default chain: each place a service may find credentials, in the order the AWS SDKs try them.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use super::{
    ContainerCredentials, Credentials, CredentialsError, Env, EnvironmentCredentials, InstanceMetadataCredentials,
    ProfileCredentials, ProvideCredentials, WebIdentityCredentials,
};

/// One of the places the [`CredentialsChain`] looks, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialSource {
    /// `S3_*`, then `AWS_*` variables ([`EnvironmentCredentials`]).
    Environment,
    /// The shared profile files ([`ProfileCredentials`]).
    Profile,
    /// A web identity token and a role (EKS IRSA, [`WebIdentityCredentials`]).
    WebIdentity,
    /// The container credentials endpoint (ECS, Fargate, EKS Pod Identity, [`ContainerCredentials`]).
    Container,
    /// EC2 instance metadata, IMDSv2 ([`InstanceMetadataCredentials`]).
    InstanceMetadata,
}

impl CredentialSource {
    /// All of them, in the chain's order.
    pub const ALL: [Self; 5] =
        [Self::Environment, Self::Profile, Self::WebIdentity, Self::Container, Self::InstanceMetadata];
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Environment => "environment",
            Self::Profile => "profile",
            Self::WebIdentity => "web identity",
            Self::Container => "container endpoint",
            Self::InstanceMetadata => "instance metadata",
        })
    }
}

/// A source the chain passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The source, as its provider names itself.
    pub source: String,
    /// Why it was passed over.
    pub reason: String,
}

/// How the chain found credentials the last time: which source answered, and why each earlier one
/// was passed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The source that answered.
    pub source: String,
    /// The sources tried before it.
    pub skipped: Vec<Skipped>,
}

/// The default credentials chain: environment → shared profile files → web identity → container
/// endpoint → EC2 instance metadata, the order of the AWS SDKs (aws-config, botocore).
///
/// A source that is **not configured** here is passed over; a source that is configured but
/// **fails** (a profile that loops, a token file that cannot be read, an endpoint that refuses) stops
/// the chain with its error, rather than falling through to another identity. Instance metadata is
/// the exception that proves the rule: when nothing answers at 169.254.169.254 this is taken as "not
/// on EC2", and the error lists every source with the reason it was passed over.
///
/// ```
/// use stowage::credentials::{CredentialSource, CredentialsChain};
///
/// // Everything but instance metadata (a service that never runs on EC2):
/// let chain = CredentialsChain::from_env().without(CredentialSource::InstanceMetadata);
/// assert_eq!(chain.sources().len(), 4);
/// ```
pub struct CredentialsChain {
    env: Env,
    enabled: Vec<CredentialSource>,
    environment: EnvironmentCredentials,
    profile: ProfileCredentials,
    web_identity: WebIdentityCredentials,
    container: ContainerCredentials,
    instance_metadata: InstanceMetadataCredentials,
    last: Mutex<Option<Resolution>>,
}

impl fmt::Debug for CredentialsChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsChain").field("sources", &self.enabled).field("env", &self.env).finish()
    }
}

impl CredentialsChain {
    /// The whole chain, reading the process environment at each call.
    #[must_use]
    pub fn from_env() -> Self {
        Self::with_env(Env::process())
    }

    /// The whole chain, with variables looked up through `lookup` (taken now): for tests, and for
    /// services that keep their settings elsewhere than in the process environment.
    #[must_use]
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::with_env(Env::snapshot(lookup))
    }

    pub(crate) fn with_env(env: Env) -> Self {
        Self {
            enabled: CredentialSource::ALL.to_vec(),
            environment: EnvironmentCredentials::with_env(env.clone()),
            profile: ProfileCredentials::with_env(env.clone()),
            web_identity: WebIdentityCredentials::with_env(env.clone()),
            container: ContainerCredentials::with_env(env.clone()),
            instance_metadata: InstanceMetadataCredentials::with_env(env.clone()),
            env,
            last: Mutex::new(None),
        }
    }

    /// Leaves `source` out.
    #[must_use]
    pub fn without(mut self, source: CredentialSource) -> Self {
        self.enabled.retain(|s| *s != source);
        self
    }

    /// Keeps only `sources` (in the chain's order, whatever the order given).
    #[must_use]
    pub fn only(mut self, sources: &[CredentialSource]) -> Self {
        self.enabled.retain(|s| sources.contains(s));
        self
    }

    /// Reads this profile, whatever `AWS_PROFILE` says (see [`ProfileCredentials::named`]).
    #[must_use]
    pub fn with_profile_name(mut self, profile: impl Into<String>) -> Self {
        self.profile = self.profile.named(profile);
        self
    }

    /// Resolves `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` against `base` (see
    /// [`ContainerCredentials::with_relative_base`]).
    #[must_use]
    pub fn with_container_relative_base(mut self, base: impl Into<String>) -> Self {
        self.container = self.container.with_relative_base(base);
        self
    }

    /// Asks instance metadata at `endpoint` (see [`InstanceMetadataCredentials::with_endpoint`]).
    #[must_use]
    pub fn with_instance_metadata_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.instance_metadata = self.instance_metadata.with_endpoint(endpoint);
        self
    }

    fn member(&self, source: CredentialSource) -> &dyn ProvideCredentials {
        match source {
            CredentialSource::Environment => &self.environment,
            CredentialSource::Profile => &self.profile,
            CredentialSource::WebIdentity => &self.web_identity,
            CredentialSource::Container => &self.container,
            CredentialSource::InstanceMetadata => &self.instance_metadata,
        }
    }

    /// The sources it tries, in order.
    #[must_use]
    pub fn sources(&self) -> Vec<CredentialSource> {
        self.enabled.clone()
    }

    /// The credentials the chain finds without the network — variables, or keys in the selected
    /// profile — when the first source configured here is one of those. `None` when it would have to
    /// ask a process or an endpoint.
    pub(crate) fn resolve_offline(&self) -> Option<(Credentials, Resolution)> {
        let mut skipped = Vec::new();
        for &source in &self.enabled {
            let provider = self.member(source);
            match source {
                CredentialSource::Environment => match super::env::from_env(&self.env) {
                    Ok(credentials) => {
                        return Some((credentials, Resolution { source: provider.name(), skipped }));
                    }
                    Err(CredentialsError::NotConfigured { reason, .. }) => {
                        skipped.push(Skipped { source: provider.name(), reason });
                    }
                    Err(_) => return None,
                },
                CredentialSource::Profile => {
                    let credentials = self.profile.offline()?;
                    return Some((credentials, Resolution { source: provider.name(), skipped }));
                }
                _ => return None,
            }
        }
        None
    }

    fn remember(&self, resolution: Resolution) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(resolution);
    }
}

#[async_trait::async_trait]
impl ProvideCredentials for CredentialsChain {
    async fn provide(&self) -> Result<Credentials, CredentialsError> {
        let mut skipped = Vec::new();
        for &source in &self.enabled {
            let provider = self.member(source);
            match provider.provide().await {
                Ok(credentials) => {
                    self.remember(Resolution { source: provider.name(), skipped });
                    return Ok(credentials);
                }
                Err(CredentialsError::NotConfigured { provider, reason }) => {
                    skipped.push(Skipped { source: provider, reason });
                }
                // Nothing at the instance metadata address: not on EC2.
                Err(e @ (CredentialsError::Unreachable { .. } | CredentialsError::Timeout { .. }))
                    if source == CredentialSource::InstanceMetadata =>
                {
                    let reason = e.to_string();
                    let reason = reason.split_once(": ").map_or(reason.as_str(), |(_, r)| r).to_owned();
                    skipped.push(Skipped { source: provider.name(), reason });
                }
                Err(e) => return Err(e),
            }
        }
        Err(CredentialsError::NoneFound { skipped })
    }

    fn name(&self) -> String {
        match self.last_resolution() {
            Some(resolution) => resolution.source,
            None => "the default credentials chain".into(),
        }
    }

    fn last_resolution(&self) -> Option<Resolution> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env {
        Env::snapshot(|name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    }

    #[tokio::test]
    async fn nothing_configured_lists_every_source_and_why() {
        let chain = CredentialsChain::with_env(env(&[("AWS_EC2_METADATA_DISABLED", "true"), ("HOME", "/nonexistent")]));
        let e = chain.provide().await.unwrap_err();
        let CredentialsError::NoneFound { skipped } = &e else { panic!("{e:?}") };
        assert_eq!(skipped.len(), 5, "{skipped:?}");
        let text = e.to_string();
        for needle in [
            "S3_ACCESS_KEY_ID",
            "no default profile",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_EC2_METADATA_DISABLED",
        ] {
            assert!(text.contains(needle), "{needle} missing from: {text}");
        }
    }

    #[tokio::test]
    async fn the_first_configured_source_answers_and_a_broken_one_stops_the_chain() {
        let chain = CredentialsChain::with_env(env(&[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.1.2.3/creds"),
        ]));
        assert_eq!(chain.provide().await.unwrap().access_key_id(), "AKID");
        assert_eq!(chain.last_resolution().unwrap().source, "the environment");
        let (offline, _) = chain.resolve_offline().unwrap();
        assert_eq!(offline.access_key_id(), "AKID");

        let broken = CredentialsChain::with_env(env(&[
            ("HOME", "/nonexistent"),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.1.2.3/creds"),
        ]));
        let e = broken.provide().await.unwrap_err();
        assert!(matches!(e, CredentialsError::InvalidConfig { .. }), "{e:?}");
        assert!(broken.resolve_offline().is_none());
    }
}
