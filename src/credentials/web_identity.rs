//! Web identity (EKS IRSA and any OIDC federation): a token file, a role, STS
//! `AssumeRoleWithWebIdentity`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::sts::{self, Role};
use super::{Credentials, CredentialsError, Env, ProvideCredentials};

const PROVIDER: &str = "web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)";

/// Credentials for a role, in exchange for an OIDC token read from a file: what EKS gives a pod
/// whose service account is annotated with a role (IRSA). The token file is read again at every
/// refresh, since the kubelet rotates it.
///
/// [`from_env`](Self::from_env) reads `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN` and the optional
/// `AWS_ROLE_SESSION_NAME`; STS is reached at `AWS_ENDPOINT_URL_STS` (or `AWS_ENDPOINT_URL`), else at
/// the regional endpoint of `AWS_REGION`.
#[derive(Debug)]
pub struct WebIdentityCredentials {
    settings: Settings,
    client: OnceLock<reqwest::Client>,
}

#[derive(Debug, Clone)]
enum Settings {
    Env(Env),
    Fixed { token_file: PathBuf, role_arn: String, session_name: Option<String>, endpoint: String },
}

impl WebIdentityCredentials {
    /// Configured by the environment at each call.
    #[must_use]
    pub fn from_env() -> Self {
        Self::with_env(Env::process())
    }

    pub(crate) fn with_env(env: Env) -> Self {
        Self { settings: Settings::Env(env), client: OnceLock::new() }
    }

    /// A token file and a role, with STS at `sts_endpoint` (such as `https://sts.eu-west-1.amazonaws.com`).
    #[must_use]
    pub fn new(token_file: impl Into<PathBuf>, role_arn: impl Into<String>, sts_endpoint: impl Into<String>) -> Self {
        let settings = Settings::Fixed {
            token_file: token_file.into(),
            role_arn: role_arn.into(),
            session_name: None,
            endpoint: sts_endpoint.into().trim_end_matches('/').to_owned(),
        };
        Self { settings, client: OnceLock::new() }
    }

    /// The role session name (default `AWS_ROLE_SESSION_NAME`, else `stowage-<milliseconds>`).
    #[must_use]
    pub fn with_session_name(mut self, name: impl Into<String>) -> Self {
        if let Settings::Fixed { session_name, .. } = &mut self.settings {
            *session_name = Some(name.into());
        }
        self
    }
}

/// Reads a web identity token: the whole file, surrounding whitespace removed.
pub(crate) async fn read_token(provider: &str, path: &Path) -> Result<String, CredentialsError> {
    let token = tokio::fs::read_to_string(path).await.map_err(|e| {
        CredentialsError::invalid(provider, format!("cannot read the web identity token file {}: {e}", path.display()))
    })?;
    let token = token.trim();
    if token.is_empty() {
        return Err(CredentialsError::invalid(
            provider,
            format!("the web identity token file {} is empty", path.display()),
        ));
    }
    Ok(token.to_owned())
}

/// Exchanges the token in `token_file` for credentials of `role`.
pub(crate) async fn fetch(
    client: &reqwest::Client,
    provider: &str,
    endpoint: &str,
    token_file: &Path,
    role: &Role<'_>,
) -> Result<Credentials, CredentialsError> {
    let token = zeroize::Zeroizing::new(read_token(provider, token_file).await?);
    sts::assume_role_with_web_identity(client, provider, endpoint, role, &token).await
}

#[async_trait::async_trait]
impl ProvideCredentials for WebIdentityCredentials {
    async fn provide(&self) -> Result<Credentials, CredentialsError> {
        let client = super::http::cached_client(
            &self.client,
            PROVIDER,
            std::time::Duration::from_secs(5),
            super::http::Reach::Internet,
        )?;
        match &self.settings {
            Settings::Fixed { token_file, role_arn, session_name, endpoint } => {
                let name = session_name.clone().unwrap_or_else(|| sts::session_name(&Env::process()));
                let role = Role { arn: role_arn, session_name: &name, external_id: None, duration: None };
                fetch(&client, PROVIDER, endpoint, token_file, &role).await
            }
            Settings::Env(env) => {
                let (file, arn) = (env.get("AWS_WEB_IDENTITY_TOKEN_FILE"), env.get("AWS_ROLE_ARN"));
                let (file, arn) = match (file, arn) {
                    (Some(file), Some(arn)) => (file, arn),
                    (None, None) => {
                        return Err(CredentialsError::not_configured(
                            PROVIDER,
                            "AWS_WEB_IDENTITY_TOKEN_FILE is not set",
                        ));
                    }
                    (Some(_), None) => {
                        return Err(CredentialsError::invalid(
                            PROVIDER,
                            "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not",
                        ));
                    }
                    (None, Some(_)) => {
                        return Err(CredentialsError::not_configured(
                            PROVIDER,
                            "AWS_ROLE_ARN is set without AWS_WEB_IDENTITY_TOKEN_FILE",
                        ));
                    }
                };
                let endpoint = sts::endpoint(env, env.aws_region().as_deref());
                let name = sts::session_name(env);
                let role = Role { arn: arn.trim(), session_name: &name, external_id: None, duration: None };
                fetch(&client, PROVIDER, &endpoint, Path::new(file.trim()), &role).await
            }
        }
    }

    fn name(&self) -> String {
        PROVIDER.into()
    }
}
