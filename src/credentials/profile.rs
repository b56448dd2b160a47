//! Shared profile files: `~/.aws/credentials` and `~/.aws/config`, as the AWS CLI and SDKs read them.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use super::profile_files::ProfileFiles;
use super::sts::{self, Role};
use super::{
    ContainerCredentials, Credentials, CredentialsError, Env, EnvironmentCredentials, InstanceMetadataCredentials,
    ProvideCredentials,
};

/// How long a `credential_process` may run by default.
pub const DEFAULT_PROCESS_TIMEOUT: Duration = Duration::from_secs(30);

/// The most profiles one `role_arn` chain may pass through.
const MAX_CHAIN: usize = 16;

/// Credentials from the shared profile files, for the profile `AWS_PROFILE` names (else `default`):
///
/// - `aws_access_key_id`, `aws_secret_access_key` and optionally `aws_session_token`;
/// - `role_arn` with `source_profile` (another profile, any depth; loops are refused),
///   `credential_source` (`Environment`, `Ec2InstanceMetadata`, `EcsContainer`) or
///   `web_identity_token_file`; with `external_id`, `role_session_name`, `duration_seconds` → STS
///   `AssumeRole`, signed by this crate;
/// - `credential_process`: a command that prints credentials as JSON (run through the shell, stopped
///   after 30 s by default).
///
/// Files: `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`, sections `[name]`) and
/// `AWS_CONFIG_FILE` (default `~/.aws/config`, sections `[default]` and `[profile name]`); for a
/// profile in both, the credentials file wins key by key. SSO profiles (`sso_session`,
/// `sso_start_url`) are not read: the error says how to bridge them with `credential_process`.
#[derive(Debug)]
pub struct ProfileCredentials {
    env: Env,
    name: Option<String>,
    process_timeout: Duration,
    client: OnceLock<reqwest::Client>,
}

impl Default for ProfileCredentials {
    fn default() -> Self {
        Self::from_env()
    }
}

impl ProfileCredentials {
    /// The profile `AWS_PROFILE` names, else `default`, from the files the environment names.
    #[must_use]
    pub fn from_env() -> Self {
        Self::with_env(Env::process())
    }

    pub(crate) fn with_env(env: Env) -> Self {
        Self { env, name: None, process_timeout: DEFAULT_PROCESS_TIMEOUT, client: OnceLock::new() }
    }

    /// This profile, whatever `AWS_PROFILE` says.
    #[must_use]
    pub fn named(mut self, profile: impl Into<String>) -> Self {
        self.name = Some(profile.into());
        self
    }

    /// How long a `credential_process` may run before it is stopped (default 30 s).
    #[must_use]
    pub fn with_process_timeout(mut self, timeout: Duration) -> Self {
        self.process_timeout = timeout;
        self
    }

    /// The profile in use, and whether it was asked for by name.
    fn selected(&self) -> (String, bool) {
        if let Some(name) = &self.name {
            return (name.clone(), true);
        }
        match self.env.first(&["AWS_PROFILE", "AWS_DEFAULT_PROFILE"]) {
            Some((_, name)) => (name.trim().to_owned(), true),
            None => ("default".to_owned(), false),
        }
    }

    fn describe(name: &str) -> String {
        format!("profile {name:?}")
    }
}

/// Where a profile's credentials start.
#[derive(Debug)]
enum Base {
    Static(Credentials),
    Process { profile: String, command: String },
    WebIdentity { profile: String, token_file: PathBuf, role: RoleStep },
    Source { profile: String, source: String },
}

/// A role assumed on the way, with the settings of the profile that names it.
#[derive(Debug, Clone)]
struct RoleStep {
    profile: String,
    arn: String,
    external_id: Option<String>,
    session_name: Option<String>,
    duration: Option<u32>,
    region: Option<String>,
}

/// How `start`'s credentials are had: a base, then roles to assume in order.
#[derive(Debug)]
struct Plan {
    base: Base,
    roles: Vec<RoleStep>,
}

fn plan(files: &ProfileFiles, start: &str, by_name: bool) -> Result<Plan, CredentialsError> {
    let provider = ProfileCredentials::describe(start);
    let Some(_) = files.get(start) else {
        let where_looked = files.where_looked();
        return Err(if by_name {
            CredentialsError::invalid(provider, format!("no such profile in {where_looked}"))
        } else {
            CredentialsError::not_configured(provider, format!("no default profile in {where_looked}"))
        });
    };
    let mut visited: Vec<String> = Vec::new();
    let mut roles = Vec::new();
    let mut name = start.to_owned();
    loop {
        let here = ProfileCredentials::describe(&name);
        let Some(profile) = files.get(&name) else {
            return Err(CredentialsError::invalid(
                ProfileCredentials::describe(start),
                format!("its source_profile {name:?} does not exist in {}", files.where_looked()),
            ));
        };
        if visited.contains(&name) || visited.len() >= MAX_CHAIN {
            visited.push(name);
            return Err(CredentialsError::invalid(
                ProfileCredentials::describe(start),
                format!("source_profile loops: {}", visited.join(" → ")),
            ));
        }
        visited.push(name.clone());
        let get = |key: &str| profile.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let keys = files.static_keys(&name);

        // A source profile's own keys come before its role (as aws-config and botocore read it).
        if visited.len() > 1
            && let Some(credentials) = keys
        {
            roles.reverse();
            return Ok(Plan { base: Base::Static(credentials?), roles });
        }
        if let Some(arn) = get("role_arn") {
            if get("mfa_serial").is_some() {
                return Err(CredentialsError::invalid(
                    here,
                    "its role needs an MFA code (mfa_serial), which a service cannot type; use a profile with \
                     credential_process (a helper that asks for the code), or one without MFA",
                ));
            }
            let duration = match get("duration_seconds") {
                None => None,
                Some(d) => Some(d.parse::<u32>().map_err(|_| {
                    CredentialsError::invalid(
                        here.clone(),
                        format!("duration_seconds {d:?} is not a number of seconds"),
                    )
                })?),
            };
            let step = RoleStep {
                profile: name.clone(),
                arn,
                external_id: get("external_id"),
                session_name: get("role_session_name"),
                duration,
                region: get("region"),
            };
            if let Some(file) = get("web_identity_token_file") {
                return Ok(Plan {
                    base: Base::WebIdentity { profile: name.clone(), token_file: PathBuf::from(file), role: step },
                    roles,
                });
            }
            roles.push(step);
            match (get("source_profile"), get("credential_source")) {
                (Some(_), Some(_)) => {
                    return Err(CredentialsError::invalid(
                        here,
                        "it sets both source_profile and credential_source; keep one",
                    ));
                }
                (Some(source), None) if source == name => {
                    // A profile that names itself as its source uses its own keys (as the CLI allows).
                    let Some(credentials) = keys else {
                        return Err(CredentialsError::invalid(
                            here,
                            "it is its own source_profile but holds no aws_access_key_id/aws_secret_access_key",
                        ));
                    };
                    roles.reverse();
                    return Ok(Plan { base: Base::Static(credentials?), roles });
                }
                (Some(source), None) => {
                    name = source;
                    continue;
                }
                (None, Some(source)) => {
                    roles.reverse();
                    return Ok(Plan { base: Base::Source { profile: name.clone(), source }, roles });
                }
                (None, None) => {
                    return Err(CredentialsError::invalid(
                        here,
                        "role_arn needs source_profile, credential_source or web_identity_token_file",
                    ));
                }
            }
        }
        if get("sso_session").is_some() || get("sso_start_url").is_some() {
            return Err(CredentialsError::invalid(
                here,
                format!(
                    "SSO profiles are not read by stowage; add `credential_process = aws configure export-credentials --profile {name} --format process` to a profile and use that one"
                ),
            ));
        }
        let base = if let Some(credentials) = keys {
            Base::Static(credentials?)
        } else if let Some(command) = get("credential_process") {
            Base::Process { profile: name.clone(), command }
        } else if roles.is_empty() {
            return Err(CredentialsError::not_configured(
                here,
                "it holds no credentials (aws_access_key_id, role_arn or credential_process)",
            ));
        } else {
            return Err(CredentialsError::invalid(
                ProfileCredentials::describe(start),
                format!("its source_profile {name:?} holds no credentials"),
            ));
        };
        roles.reverse();
        return Ok(Plan { base, roles });
    }
}

/// The selected profile's region.
pub(crate) fn region(env: &Env) -> Option<String> {
    let (name, _) = ProfileCredentials::with_env(env.clone()).selected();
    ProfileFiles::load(env).ok()?.region(&name)
}

impl ProfileCredentials {
    /// The selected profile's keys when it holds them directly: what a synchronous constructor can
    /// use without the network. `None` otherwise (absent, a role, a process).
    pub(crate) fn offline(&self) -> Option<Credentials> {
        let (name, by_name) = self.selected();
        let files = ProfileFiles::load(&self.env).ok()?;
        match plan(&files, &name, by_name).ok()? {
            Plan { base: Base::Static(credentials), roles } if roles.is_empty() => Some(credentials),
            _ => None,
        }
    }

    fn client(&self, provider: &str) -> Result<reqwest::Client, CredentialsError> {
        super::http::cached_client(&self.client, provider, Duration::from_secs(5), super::http::Reach::Internet)
    }

    async fn base(&self, base: Base) -> Result<Credentials, CredentialsError> {
        match base {
            Base::Static(credentials) => Ok(credentials),
            Base::Process { profile, command } => {
                super::process::run(&Self::describe(&profile), &command, self.process_timeout).await
            }
            Base::WebIdentity { profile, token_file, role } => {
                let provider = format!("{} (web_identity_token_file)", Self::describe(&profile));
                let session = role.session_name.clone().unwrap_or_else(|| sts::session_name(&self.env));
                let endpoint = sts::endpoint(&self.env, role.region.as_deref().or(self.env.aws_region().as_deref()));
                let step = Role { arn: &role.arn, session_name: &session, external_id: None, duration: role.duration };
                let client = self.client(&provider)?;
                super::web_identity::fetch(&client, &provider, &endpoint, &token_file, &step).await
            }
            Base::Source { profile, source } => {
                let provider: Box<dyn ProvideCredentials> = match source.as_str() {
                    "Environment" => Box::new(EnvironmentCredentials::with_env(self.env.clone())),
                    "Ec2InstanceMetadata" => Box::new(InstanceMetadataCredentials::with_env(self.env.clone())),
                    "EcsContainer" => Box::new(ContainerCredentials::with_env(self.env.clone())),
                    other => {
                        return Err(CredentialsError::invalid(
                            Self::describe(&profile),
                            format!(
                                "credential_source {other:?} is not one of Environment, Ec2InstanceMetadata, EcsContainer"
                            ),
                        ));
                    }
                };
                provider.provide().await.map_err(|e| match e {
                    CredentialsError::NotConfigured { provider, reason } => CredentialsError::invalid(
                        Self::describe(&profile),
                        format!("its credential_source {source} is not available: {provider}: {reason}"),
                    ),
                    other => other,
                })
            }
        }
    }
}

#[async_trait::async_trait]
impl ProvideCredentials for ProfileCredentials {
    async fn provide(&self) -> Result<Credentials, CredentialsError> {
        let (name, by_name) = self.selected();
        let files = ProfileFiles::load(&self.env)?;
        let Plan { base, roles } = plan(&files, &name, by_name)?;
        let mut credentials = self.base(base).await?;
        for step in roles {
            let provider = format!("{} (role_arn)", Self::describe(&step.profile));
            let session = step.session_name.clone().unwrap_or_else(|| sts::session_name(&self.env));
            let region = step.region.clone().or_else(|| self.env.aws_region());
            let endpoint = sts::endpoint(&self.env, region.as_deref());
            let role = Role {
                arn: &step.arn,
                session_name: &session,
                external_id: step.external_id.as_deref(),
                duration: step.duration,
            };
            let client = self.client(&provider)?;
            credentials =
                sts::assume_role(&client, &provider, &endpoint, region.as_deref(), credentials, &role).await?;
        }
        Ok(credentials)
    }

    fn name(&self) -> String {
        let (name, _) = self.selected();
        format!("{} (shared profile files)", Self::describe(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::profile_files::{FileKind, parse};

    fn files(config: &str, credentials: &str) -> ProfileFiles {
        let mut files = ProfileFiles::default();
        files.add(config, FileKind::Config);
        files.add(credentials, FileKind::Credentials);
        files
    }

    #[test]
    fn credentials_file_wins_and_profiles_need_their_prefix_in_config() {
        let f = files(
            "[profile dev]\naws_access_key_id = FROMCONFIG\naws_secret_access_key = c\naws_session_token = configtoken\n\
             region = eu-west-1\n[dev2]\naws_access_key_id = X\n",
            "[dev]\naws_access_key_id = FROMCREDS\naws_secret_access_key = k\n",
        );
        let Plan { base: Base::Static(c), roles } = plan(&f, "dev", true).unwrap() else { panic!("static") };
        assert!(roles.is_empty());
        assert_eq!((c.access_key_id(), c.secret_access_key()), ("FROMCREDS", "k"));
        assert!(!c.has_session_token(), "the config file's token belongs to the config file's key");
        assert_eq!(f.region("dev").as_deref(), Some("eu-west-1"));
        assert!(f.get("dev2").is_none(), "[dev2] in the config file is not a profile");
    }

    #[test]
    fn role_chains_loops_and_missing_profiles() {
        let f = files(
            "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\nexternal_id = ext\n\
             [profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = base\nduration_seconds = 900\n\
             [profile base]\naws_access_key_id = AKID\naws_secret_access_key = s\n\
             [profile x]\nrole_arn = arn:x\nsource_profile = y\n[profile y]\nrole_arn = arn:y\nsource_profile = x\n\
             [profile self]\nrole_arn = arn:self\nsource_profile = self\naws_access_key_id = SELF\naws_secret_access_key = s\n\
             [profile web]\nrole_arn = arn:web\nweb_identity_token_file = /var/run/token\n\
             [profile proc]\ncredential_process = /bin/helper --json\n\
             [profile sso]\nsso_session = corp\nsso_account_id = 1\n\
             [profile both]\nrole_arn = arn:b\nsource_profile = base\ncredential_source = Environment\n\
             [profile dangling]\nrole_arn = arn:d\nsource_profile = nowhere\n\
             [profile empty]\nregion = eu-west-1\n\
             [profile keyed-source]\nrole_arn = arn:aws:iam::1:role/top\nsource_profile = both\n\
             [profile both]\nrole_arn = arn:aws:iam::1:role/ignored\nsource_profile = base\naws_access_key_id = BOTHKEY\naws_secret_access_key = s\n\
             [profile mfa]\nrole_arn = arn:aws:iam::1:role/m\nsource_profile = base\nmfa_serial = arn:aws:iam::1:mfa/me\n",
            "",
        );
        let p = plan(&f, "a", true).unwrap();
        assert!(matches!(&p.base, Base::Static(c) if c.access_key_id() == "AKID"));
        let arns: Vec<&str> = p.roles.iter().map(|r| r.arn.as_str()).collect();
        assert_eq!(arns, ["arn:aws:iam::1:role/b", "arn:aws:iam::1:role/a"], "the source's role first");
        assert_eq!(p.roles[0].duration, Some(900));
        assert_eq!(p.roles[1].external_id.as_deref(), Some("ext"));

        let looped = plan(&f, "x", true).unwrap_err().to_string();
        assert!(looped.contains("loops: x → y → x"), "{looped}");
        let own = plan(&f, "self", true).unwrap();
        assert!(matches!(&own.base, Base::Static(c) if c.access_key_id() == "SELF") && own.roles.len() == 1);
        assert!(matches!(plan(&f, "web", true).unwrap().base, Base::WebIdentity { .. }));
        assert!(matches!(plan(&f, "proc", true).unwrap().base, Base::Process { .. }));
        let sso = plan(&f, "sso", true).unwrap_err().to_string();
        assert!(sso.contains("export-credentials --profile sso"), "{sso}");
        assert!(plan(&f, "both", true).unwrap_err().to_string().contains("both source_profile and credential_source"));
        assert!(plan(&f, "dangling", true).unwrap_err().to_string().contains("\"nowhere\" does not exist"));
        assert!(plan(&f, "empty", true).unwrap_err().is_not_configured());
        assert!(matches!(plan(&f, "nope", true), Err(CredentialsError::InvalidConfig { .. })));
        assert!(plan(&f, "default", false).unwrap_err().is_not_configured());

        // A source profile's own keys come before its role_arn.
        let keyed = plan(&f, "keyed-source", true).unwrap();
        assert!(matches!(&keyed.base, Base::Static(c) if c.access_key_id() == "BOTHKEY"));
        assert_eq!(keyed.roles.iter().map(|r| r.arn.as_str()).collect::<Vec<_>>(), ["arn:aws:iam::1:role/top"]);
        assert!(plan(&f, "mfa", true).unwrap_err().to_string().contains("mfa_serial"));
    }

    #[test]
    fn a_file_indented_throughout_is_read() {
        let parsed = parse("[default]\n  aws_access_key_id = AKID\n  aws_secret_access_key = s\n");
        assert_eq!(
            parsed[0].1,
            [("aws_access_key_id".to_owned(), "AKID".to_owned()), ("aws_secret_access_key".to_owned(), "s".to_owned())]
        );
    }
}
