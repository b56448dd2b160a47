//! [`S3Config`] from the environment: the variables the S3 and R2 tutorials and the AWS SDKs name, and
//! the credentials chain.

use std::sync::Arc;

use super::S3Config;
use super::credentials_cache::CredentialsConfig;
use crate::credentials::{CredentialsChain, Env};
use crate::sigv4::AddressingStyle;
use crate::{Error, Result};

impl S3Config {
    /// Reads the configuration from the environment, as the S3 and R2 tutorials and the AWS SDKs
    /// name it:
    ///
    /// | variable | fallbacks | |
    /// |---|---|---|
    /// | `S3_BUCKET` | | required |
    /// | `S3_REGION` | `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region` | required (`auto` for R2) |
    /// | `S3_ENDPOINT` | `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL` | absent: AWS |
    /// | `S3_ADDRESSING_STYLE` | | optional: `path` or `virtual` |
    ///
    /// Credentials come from the [`CredentialsChain`]: `S3_ACCESS_KEY_ID`/`S3_SECRET_ACCESS_KEY`/
    /// `S3_SESSION_TOKEN` (or the `AWS_*` names), then the shared profile files, web identity, the
    /// container endpoint and EC2 instance metadata. Keys found in variables or in the selected
    /// profile are used as they are; for the other sources [`build`](Self::build) fetches
    /// credentials before it returns, and the backend refreshes them ahead of expiry.
    ///
    /// An endpoint on `r2.cloudflarestorage.com` selects the R2 rules.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the missing or invalid variable.
    pub fn from_env() -> Result<Self> {
        Self::from_source(Env::process())
    }

    /// As [`from_env`](Self::from_env), looking variables up through `lookup` (the credentials chain
    /// then sees the values `lookup` gives now, not later changes).
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        Self::from_source(Env::snapshot(lookup))
    }

    fn from_source(env: Env) -> Result<Self> {
        let get = |names: &[&str]| names.iter().find_map(|n| env.get(n));
        let bucket = get(&["S3_BUCKET"]).ok_or_else(|| Error::Config("S3_BUCKET is not set".into()))?;
        let region = get(&["S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"])
            .or_else(|| crate::credentials::profile_region(&env))
            .ok_or_else(|| {
                Error::Config(
                    "S3_REGION is not set, nor AWS_REGION or a profile's region (use auto for Cloudflare R2)".into(),
                )
            })?;
        let chain = CredentialsChain::with_env(env.clone());
        let credentials = match chain.resolve_offline() {
            Some((credentials, resolution)) => CredentialsConfig::Fixed(credentials, Some(resolution)),
            None => {
                // A variable pair half set is a mistake to report now, not at the first request.
                if let Err(e @ crate::credentials::CredentialsError::InvalidConfig { .. }) =
                    crate::credentials::env_credentials(&env)
                {
                    return Err(Error::Config(e.to_string()));
                }
                CredentialsConfig::Provider(Arc::new(chain))
            }
        };
        let mut config = Self::with_source(bucket.trim().to_owned(), region.trim().to_owned(), credentials);
        if let Some(endpoint) = get(&["S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]) {
            config = config.with_endpoint(endpoint.trim());
        }
        match get(&["S3_ADDRESSING_STYLE"]).as_deref().map(str::trim) {
            None => {}
            Some("path") => config.style = Some(AddressingStyle::Path),
            Some("virtual" | "virtual-hosted") => config.style = Some(AddressingStyle::VirtualHosted),
            Some(other) => {
                return Err(Error::Config(format!("S3_ADDRESSING_STYLE must be path or virtual, not {other:?}")));
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Platform;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn env_names_and_fallbacks() {
        let c = S3Config::from_lookup(env(&[
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("S3_BUCKET", "bkt"),
            ("AWS_REGION", "eu-west-1"),
        ]))
        .unwrap();
        assert_eq!((c.bucket(), c.region()), ("bkt", "eu-west-1"));
        let (address, platform) = c.resolve().unwrap();
        assert_eq!(platform, Platform::Aws);
        assert_eq!(address.authority(), "bkt.s3.eu-west-1.amazonaws.com");

        let r2 = S3Config::from_lookup(env(&[
            ("S3_ACCESS_KEY_ID", "id"),
            ("S3_SECRET_ACCESS_KEY", "secret"),
            ("S3_BUCKET", "b"),
            ("S3_REGION", "auto"),
            ("S3_ENDPOINT", "https://abc123.r2.cloudflarestorage.com"),
        ]))
        .unwrap();
        let (address, platform) = r2.resolve().unwrap();
        assert_eq!(platform, Platform::R2);
        assert_eq!(address.object_url("k").unwrap(), "https://abc123.r2.cloudflarestorage.com/b/k");

        let missing = S3Config::from_lookup(env(&[("S3_ACCESS_KEY_ID", "id"), ("S3_SECRET_ACCESS_KEY", "s")]));
        assert!(matches!(missing, Err(Error::Config(m)) if m.contains("S3_BUCKET")));
        let bad_style = S3Config::from_lookup(env(&[
            ("S3_ACCESS_KEY_ID", "id"),
            ("S3_SECRET_ACCESS_KEY", "s"),
            ("S3_BUCKET", "b"),
            ("S3_REGION", "auto"),
            ("S3_ADDRESSING_STYLE", "sideways"),
        ]));
        assert!(matches!(bad_style, Err(Error::Config(m)) if m.contains("S3_ADDRESSING_STYLE")));
    }
}
