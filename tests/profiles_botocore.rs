//! The shared profile files as botocore reads them: random `~/.aws/config` and `~/.aws/credentials`
//! pairs (profiles in one file or both, `[profile x]` and `[x]`, sections that are not profiles,
//! comments, `=` and `:`, spacing, upper-case keys, nested settings, CRLF, session tokens, missing
//! and default profiles) are resolved by stowage's `ProfileCredentials` and by botocore
//! (`tests/support/botocore_profiles.py`), and must agree on the key, the secret and the token — or
//! on there being none, or on the profile being missing.

#![cfg(feature = "s3")]

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};

use stowage::credentials::{CredentialSource, CredentialsChain, CredentialsError, ProvideCredentials};
use support::botocore_available;
use support::rng::Rng;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/botocore_profiles.py");
const CASES: usize = 400;
const NAMES: [&str; 4] = ["default", "dev", "prod", "ci-runner"];
const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// One file being written, with the formatting habits of this case.
struct Writer<'r> {
    rng: &'r mut Rng,
    text: String,
    crlf: bool,
}

impl Writer<'_> {
    fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push_str(if self.crlf { "\r\n" } else { "\n" });
    }

    fn noise(&mut self) {
        match self.rng.below(6) {
            0 => self.line(""),
            1 => self.line("# a comment = not a value"),
            2 => self.line("; another [comment]"),
            _ => {}
        }
    }

    fn property(&mut self, key: &str, value: &str) {
        let key = if self.rng.chance(15) { key.to_ascii_uppercase() } else { key.to_owned() };
        let delimiter = *self.rng.pick(&["=", " = ", "  =  ", ":", " : ", "\t=\t"]);
        let trailing = if self.rng.chance(20) { "   " } else { "" };
        self.line(&format!("{key}{delimiter}{value}{trailing}"));
        self.noise();
    }

    fn keys(&mut self, keys: &Keys) {
        self.property("aws_access_key_id", &keys.id);
        self.property("aws_secret_access_key", &keys.secret);
        if let Some(token) = &keys.token {
            self.property("aws_session_token", token);
        }
    }

    fn extras(&mut self) {
        if self.rng.chance(30) {
            let region = *self.rng.pick(&["eu-west-1", "us-east-2"]);
            self.property("region", region);
        }
        if self.rng.chance(20) {
            self.line("s3 =");
            self.line("    addressing_style = path");
            self.line("    max_concurrent_requests = 20");
        }
    }
}

#[derive(Clone)]
struct Keys {
    id: String,
    secret: String,
    token: Option<String>,
}

fn keys(rng: &mut Rng) -> Keys {
    Keys {
        id: format!("AKIA{}", rng.string_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
        secret: rng.string_between(&format!("{ALNUM}/+"), 20, 40),
        token: rng.chance(30).then(|| rng.string_between(&format!("{ALNUM}/+="), 30, 120)),
    }
}

/// Writes a case's two files into `dir`; returns the profile to select (or none).
fn generate(rng: &mut Rng, dir: &std::path::Path) -> Option<String> {
    let crlf = rng.chance(15);
    let mut config = Writer { rng: &mut Rng::new(rng.next_u64()), text: String::new(), crlf };
    let mut credentials = Writer { rng: &mut Rng::new(rng.next_u64()), text: String::new(), crlf };
    for name in NAMES {
        // Where this profile lives: nowhere, the config file, the credentials file, or both.
        let place = rng.below(5);
        let in_config = matches!(place, 1 | 3 | 4);
        let in_credentials = matches!(place, 2 | 3);
        config.noise();
        if in_config {
            let header = if name == "default" { "[default]".to_owned() } else { format!("[profile {name}]") };
            config.line(&header);
            // A profile of the config file holds keys, or only settings.
            if rng.chance(80) {
                config.keys(&keys(rng));
            }
            config.extras();
        } else if rng.chance(15) && name != "default" {
            // Without the prefix, a config file section is not a profile.
            config.line(&format!("[{name}]"));
            config.keys(&keys(rng));
        }
        if in_credentials {
            credentials.line(&format!("[{name}]"));
            credentials.keys(&keys(rng));
        }
    }
    if rng.chance(20) {
        config.line("[sso-session corp]");
        config.property("sso_region", "eu-west-1");
    }
    std::fs::write(dir.join("config"), &config.text).expect("config");
    std::fs::write(dir.join("credentials"), &credentials.text).expect("credentials");
    match rng.below(6) {
        0 => None,
        1 => Some("nonexistent".into()),
        _ => Some((*rng.pick(&NAMES)).to_owned()),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Found { key: String, secret: String, token: Option<String> },
    None,
    Missing,
    Error(String),
}

async fn stowage_outcome(dir: &std::path::Path, profile: Option<&str>) -> Outcome {
    let home = dir.join("home").display().to_string();
    let config = dir.join("config").display().to_string();
    let credentials = dir.join("credentials").display().to_string();
    let profile = profile.map(str::to_owned);
    let lookup = move |name: &str| match name {
        "HOME" => Some(home.clone()),
        "AWS_CONFIG_FILE" => Some(config.clone()),
        "AWS_SHARED_CREDENTIALS_FILE" => Some(credentials.clone()),
        "AWS_PROFILE" => profile.clone(),
        _ => None,
    };
    let chain = CredentialsChain::from_lookup(lookup).only(&[CredentialSource::Profile]);
    match chain.provide().await {
        Ok(c) => Outcome::Found {
            key: c.access_key_id().to_owned(),
            secret: secret_of(&c),
            token: c.has_session_token().then(|| token_of(&c)),
        },
        Err(CredentialsError::NoneFound { .. }) => Outcome::None,
        Err(CredentialsError::InvalidConfig { reason, .. }) if reason.contains("no such profile") => Outcome::Missing,
        Err(e) => Outcome::Error(e.to_string()),
    }
}

/// The secret, through the one public door that shows it: a signature. Two credentials sign alike
/// if and only if their secrets are equal, so the test compares the secret botocore read by
/// signing a fixed string with it here.
fn secret_of(c: &stowage::Credentials) -> String {
    let signer = stowage::sigv4::Signer::new(c.clone(), "us-east-1", "s3").expect("signer");
    let at = stowage::sigv4::parse_amz_date("20250101T000000Z").expect("time");
    signer.sign_string("profiles-differential", at).expect("sign")
}

/// The token, through a presigned URL, where it travels in the clear by design.
fn token_of(c: &stowage::Credentials) -> String {
    let signer = stowage::sigv4::Signer::new(c.clone(), "us-east-1", "s3").expect("signer");
    let bucket = stowage::sigv4::BucketAddress::aws("us-east-1", "b").expect("bucket");
    let request = bucket.object(stowage::sigv4::Method::Get, "k").expect("request");
    let at = stowage::sigv4::parse_amz_date("20250101T000000Z").expect("time");
    let url = signer.presign(&request, std::time::Duration::from_secs(60), at).expect("presign");
    let encoded = url.url().split("X-Amz-Security-Token=").nth(1).and_then(|t| t.split('&').next()).expect("token");
    support::vectors::decode(encoded)
}

#[tokio::test]
async fn profile_files_resolve_as_botocore_resolves_them() {
    if !botocore_available() {
        return;
    }
    let mut rng = Rng::from_env("profiles_botocore");
    let root = std::env::temp_dir().join(format!("stowage-profiles-botocore-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut cases = Vec::new();
    let mut profiles = Vec::new();
    for i in 0..CASES {
        let dir = root.join(format!("case-{i}"));
        std::fs::create_dir_all(dir.join("home")).expect("dir");
        let profile = generate(&mut rng, &dir);
        cases.push(serde_json::json!({
            "home": dir.join("home"),
            "config": dir.join("config"),
            "credentials": dir.join("credentials"),
            "profile": profile,
        }));
        profiles.push(profile);
    }
    // botocore signs through awscrt when it is installed (tests/integrity.rs needs it), whose clock the
    // script cannot fix: the reference is botocore's own Python signer.
    let mut child = Command::new("python3")
        .env("BOTO_DISABLE_CRT", "true")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&cases).expect("json").as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("botocore_profiles.py");
    assert!(output.status.success(), "botocore_profiles.py failed");
    let answers: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).expect("botocore's answers");
    assert_eq!(answers.len(), CASES);

    let mut tally = std::collections::BTreeMap::<&str, usize>::new();
    for (i, answer) in answers.iter().enumerate() {
        let dir = root.join(format!("case-{i}"));
        let ours = stowage_outcome(&dir, profiles[i].as_deref()).await;
        let theirs = if let Some(key) = answer["key"].as_str() {
            let found = stowage::Credentials::new(key, answer["secret"].as_str().unwrap_or_default());
            let found = match answer["token"].as_str() {
                Some(t) => found.with_session_token(t),
                None => found,
            };
            Outcome::Found {
                key: key.to_owned(),
                secret: secret_of(&found),
                token: found.has_session_token().then(|| token_of(&found)),
            }
        } else if answer["none"].as_bool() == Some(true) {
            Outcome::None
        } else if answer["missing"].as_bool() == Some(true) {
            Outcome::Missing
        } else {
            Outcome::Error(answer["error"].as_str().unwrap_or("?").to_owned())
        };
        assert!(
            !matches!(theirs, Outcome::Error(_)),
            "case {i} (profile {:?}): botocore failed: {theirs:?}\nconfig:\n{}\ncredentials:\n{}",
            profiles[i],
            std::fs::read_to_string(dir.join("config")).unwrap_or_default(),
            std::fs::read_to_string(dir.join("credentials")).unwrap_or_default()
        );
        assert_eq!(
            ours,
            theirs,
            "case {i} (profile {:?}) differs from botocore\nconfig:\n{}\ncredentials:\n{}",
            profiles[i],
            std::fs::read_to_string(dir.join("config")).unwrap_or_default(),
            std::fs::read_to_string(dir.join("credentials")).unwrap_or_default()
        );
        *tally
            .entry(match ours {
                Outcome::Found { token: Some(_), .. } => "keys with a token",
                Outcome::Found { .. } => "keys",
                Outcome::None => "none",
                Outcome::Missing => "missing profile",
                Outcome::Error(_) => "error",
            })
            .or_default() += 1;
    }
    let _ = std::fs::remove_dir_all(&root);
    eprintln!("profiles_botocore: {CASES} cases agree with botocore: {tally:?}");
    for outcome in ["keys", "keys with a token", "none", "missing profile"] {
        assert!(tally.get(outcome).copied().unwrap_or(0) > 0, "no case ended as {outcome:?}: {tally:?}");
    }
}
