//! The process environment, as the providers read it, and credentials held in it.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Credentials, CredentialsError, ProvideCredentials};

/// Every variable the configuration or a provider may read, so that a snapshot (`Env::snapshot`)
/// holds them all.
pub(crate) const NAMES: &[&str] = &[
    "S3_BUCKET",
    "S3_ENDPOINT",
    "S3_ADDRESSING_STYLE",
    "AWS_ENDPOINT_URL_S3",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_SESSION_TOKEN",
    "S3_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    "HOME",
    "USERPROFILE",
];

/// Where variables come from: the live process environment, or a fixed set (tests, or
/// [`S3Config::from_lookup`](crate::S3Config::from_lookup)).
#[derive(Clone)]
pub(crate) enum Env {
    Process,
    Fixed(Arc<HashMap<String, String>>),
}

impl Env {
    /// The process environment, read at each use.
    pub(crate) fn process() -> Self {
        Self::Process
    }

    /// The variables `lookup` gives for every name a provider reads, taken now.
    pub(crate) fn snapshot(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let vars = NAMES.iter().filter_map(|name| lookup(name).map(|v| ((*name).to_owned(), v))).collect();
        Self::Fixed(Arc::new(vars))
    }

    /// A variable, `None` when unset or blank.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        let value = match self {
            Self::Process => std::env::var(name).ok(),
            Self::Fixed(vars) => vars.get(name).cloned(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// The first of `names` that is set.
    pub(crate) fn first(&self, names: &[&str]) -> Option<(String, String)> {
        names.iter().find_map(|name| self.get(name).map(|v| ((*name).to_owned(), v)))
    }

    /// A boolean variable (`true`, case-insensitive).
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// The user's home directory.
    pub(crate) fn home(&self) -> Option<PathBuf> {
        self.get("HOME").or_else(|| self.get("USERPROFILE")).map(PathBuf::from)
    }

    /// The AWS region for services other than S3 (STS): `AWS_REGION`, then `AWS_DEFAULT_REGION`.
    pub(crate) fn aws_region(&self) -> Option<String> {
        self.first(&["AWS_REGION", "AWS_DEFAULT_REGION"]).map(|(_, v)| v.trim().to_owned())
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values are not shown: some are secrets.
        match self {
            Self::Process => f.write_str("Env::Process"),
            Self::Fixed(vars) => {
                let mut names: Vec<&str> = vars.keys().map(String::as_str).collect();
                names.sort_unstable();
                f.debug_tuple("Env::Fixed").field(&names).finish()
            }
        }
    }
}

/// Credentials in environment variables: `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY` and
/// `S3_SESSION_TOKEN`, or when those are unset the `AWS_*` names the AWS SDKs read (Lambda sets
/// those, with a session token).
#[derive(Debug, Clone)]
pub struct EnvironmentCredentials {
    env: Env,
}

impl Default for EnvironmentCredentials {
    fn default() -> Self {
        Self::new()
    }
}

impl EnvironmentCredentials {
    /// Reads the process environment at each call.
    #[must_use]
    pub fn new() -> Self {
        Self { env: Env::process() }
    }

    pub(crate) fn with_env(env: Env) -> Self {
        Self { env }
    }

    /// The credentials the variables hold now, without waiting: what a program that signs with the
    /// sans-IO core alone reads at start.
    ///
    /// ```no_run
    /// use stowage::credentials::EnvironmentCredentials;
    ///
    /// let credentials = EnvironmentCredentials::new().credentials()?;
    /// let signer = stowage::sigv4::Signer::new(credentials, "auto", "s3")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`CredentialsError::NotConfigured`] when neither `S3_ACCESS_KEY_ID` nor `AWS_ACCESS_KEY_ID` is
    /// set; [`CredentialsError::InvalidConfig`] when a key is set without its secret (or the reverse).
    pub fn credentials(&self) -> Result<Credentials, CredentialsError> {
        from_env(&self.env)
    }
}

const PROVIDER: &str = "the environment";

/// Credentials from the `S3_*` variables, or else the `AWS_*` ones (never a mix of the two).
pub(crate) fn from_env(env: &Env) -> Result<Credentials, CredentialsError> {
    match lookup_pair(|name| env.get(name)) {
        Ok(Some(credentials)) => Ok(credentials),
        Ok(None) => {
            Err(CredentialsError::not_configured(PROVIDER, "neither S3_ACCESS_KEY_ID nor AWS_ACCESS_KEY_ID is set"))
        }
        Err((set, missing)) => Err(CredentialsError::invalid(PROVIDER, format!("{set} is set but {missing} is not"))),
    }
}

/// The `S3_*` triple, or else the `AWS_*` one — never a key of one with the secret of the other.
/// `Ok(None)` when neither key is set; `Err((set, missing))` when one of a pair is.
fn lookup_pair(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Credentials>, (&'static str, &'static str)> {
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    for (id, secret, token) in [
        ("S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_SESSION_TOKEN"),
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
    ] {
        match (get(id), get(secret)) {
            (Some(key), Some(secret_value)) => {
                let credentials = Credentials::new(key.trim(), secret_value.trim());
                return Ok(Some(match get(token) {
                    Some(t) => credentials.with_session_token(t.trim()),
                    None => credentials,
                }));
            }
            (Some(_), None) => return Err((id, secret)),
            (None, Some(_)) => return Err((secret, id)),
            (None, None) => {}
        }
    }
    Ok(None)
}

#[async_trait::async_trait]
impl ProvideCredentials for EnvironmentCredentials {
    async fn provide(&self) -> Result<Credentials, CredentialsError> {
        self.credentials()
    }

    fn name(&self) -> String {
        PROVIDER.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Env::Fixed(Arc::new(map))
    }

    #[test]
    fn s3_names_win_and_are_never_mixed_with_aws_names() {
        let c = from_env(&env(&[
            ("S3_ACCESS_KEY_ID", "s3id"),
            ("S3_SECRET_ACCESS_KEY", "s3secret"),
            ("AWS_ACCESS_KEY_ID", "awsid"),
            ("AWS_SECRET_ACCESS_KEY", "awssecret"),
            ("AWS_SESSION_TOKEN", "awstoken"),
        ]))
        .unwrap();
        assert_eq!((c.access_key_id(), c.secret_access_key()), ("s3id", "s3secret"));
        assert!(!c.has_session_token(), "the AWS token belongs to the AWS key");
        let aws = from_env(&env(&[
            ("AWS_ACCESS_KEY_ID", "awsid"),
            ("AWS_SECRET_ACCESS_KEY", "awssecret"),
            ("AWS_SESSION_TOKEN", "awstoken"),
        ]))
        .unwrap();
        assert_eq!((aws.access_key_id(), aws.session_token()), ("awsid", Some("awstoken")));
        let mixed = from_env(&env(&[("S3_ACCESS_KEY_ID", "s3id"), ("AWS_SECRET_ACCESS_KEY", "x")])).unwrap_err();
        assert!(
            matches!(&mixed, CredentialsError::InvalidConfig { reason, .. } if reason.contains("S3_SECRET_ACCESS_KEY")),
            "{mixed}"
        );
    }

    #[test]
    fn half_configured_is_an_error_and_absent_is_not_configured() {
        let half = from_env(&env(&[("S3_ACCESS_KEY_ID", "id")])).unwrap_err();
        assert!(
            matches!(&half, CredentialsError::InvalidConfig { reason, .. } if reason.contains("S3_SECRET_ACCESS_KEY"))
        );
        assert!(from_env(&env(&[("HOME", "/root")])).unwrap_err().is_not_configured());
        assert!(from_env(&env(&[("S3_ACCESS_KEY_ID", "  ")])).unwrap_err().is_not_configured());
    }
}
