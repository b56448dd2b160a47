//! Where services get their credentials from (feature `s3`).
//!
//! [`Credentials`] is a value of the signing core ([`crate::sigv4`]): an access
//! key id, a secret, and for temporary credentials a session token and an expiry. The signer takes
//! one and knows nothing of where it came from. This module is that "where": the **providers** that
//! read or fetch credentials where services run, behind one object-safe trait,
//! [`ProvideCredentials`], and the [`CredentialsChain`] that tries them in the order the AWS SDKs
//! use:
//!
//! | order | source | configured by |
//! |---|---|---|
//! | 1 | [`EnvironmentCredentials`] | `S3_ACCESS_KEY_ID`/`S3_SECRET_ACCESS_KEY`/`S3_SESSION_TOKEN`, else the `AWS_*` names |
//! | 2 | [`ProfileCredentials`] | `~/.aws/credentials` and `~/.aws/config` (`AWS_PROFILE`, `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`): keys, `role_arn` + `source_profile`/`credential_source`, `web_identity_token_file`, `credential_process` |
//! | 3 | [`WebIdentityCredentials`] | `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (EKS IRSA) → STS `AssumeRoleWithWebIdentity` |
//! | 4 | [`ContainerCredentials`] | `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (ECS, Fargate) or `_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]` (EKS Pod Identity) |
//! | 5 | [`InstanceMetadataCredentials`] | EC2 instance metadata, IMDSv2 (`AWS_EC2_METADATA_SERVICE_ENDPOINT`, `AWS_EC2_METADATA_DISABLED`) |
//!
//! [`S3Storage`](crate::S3Storage) keeps what a provider returns in a cache that refreshes it ahead
//! of its expiry (see [`S3Config::with_credentials`](crate::S3Config::with_credentials)).

use crate::sigv4::Credentials;

mod chain;
mod container;
mod env;
mod error;
mod http;
mod imds;
mod json;
mod process;
mod profile;
mod profile_files;
mod provider;
mod sts;
mod web_identity;

pub use chain::{CredentialSource, CredentialsChain, Resolution, Skipped};
pub use container::ContainerCredentials;
pub use env::EnvironmentCredentials;
pub(crate) use env::{Env, from_env as env_credentials};
pub use error::CredentialsError;
pub use imds::InstanceMetadataCredentials;
pub use profile::ProfileCredentials;
pub(crate) use profile::region as profile_region;
pub(crate) use provider::Source;
pub use provider::{AnyCredentials, ProvideCredentials, StaticCredentials};
pub use web_identity::WebIdentityCredentials;
