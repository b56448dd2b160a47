//! The shared profile files as text: where they are, the INI dialect of the AWS files, and the two
//! merged (the credentials file winning key by key). What a profile *means* — keys, roles,
//! processes — is `profile`'s.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::{Credentials, CredentialsError, Env};

/// The two files, read and merged.
#[derive(Debug, Default)]
pub(crate) struct ProfileFiles {
    pub(super) profiles: HashMap<String, BTreeMap<String, String>>,
    /// Each file's own properties of each profile: keys come whole from one file (botocore's rule),
    /// never a key of one with the session token of the other.
    pub(super) by_file: [HashMap<String, BTreeMap<String, String>>; 2],
    /// Which files were read, for messages.
    read: Vec<PathBuf>,
    missing: Vec<PathBuf>,
}

impl ProfileFiles {
    /// Reads the files the environment names (absent files are empty).
    pub(crate) fn load(env: &Env) -> Result<Self, CredentialsError> {
        let mut files = Self::default();
        let home = env.home();
        // (path, named by a variable)
        let path = |var: &str, default: &str| -> Option<(PathBuf, bool)> {
            match env.get(var) {
                Some(p) => Some((expand_home(p.trim(), home.as_deref()), true)),
                None => home.as_ref().map(|h| (h.join(".aws").join(default), false)),
            }
        };
        if let Some((config, named)) = path("AWS_CONFIG_FILE", "config") {
            files.read_file(&config, named, FileKind::Config)?;
        }
        if let Some((credentials, named)) = path("AWS_SHARED_CREDENTIALS_FILE", "credentials") {
            files.read_file(&credentials, named, FileKind::Credentials)?;
        }
        Ok(files)
    }

    /// Reads one file. A default file (`~/.aws/…`) that cannot be read is taken as absent, as the
    /// SDKs take it (a container whose HOME is another user's must still reach its role); a file
    /// named by a variable must be readable.
    fn read_file(&mut self, path: &Path, named: bool, kind: FileKind) -> Result<(), CredentialsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || !named => {
                self.missing.push(path.to_owned());
                return Ok(());
            }
            Err(e) => {
                return Err(CredentialsError::invalid(
                    "the shared profile files",
                    format!("cannot read {}: {e}", path.display()),
                ));
            }
        };
        self.read.push(path.to_owned());
        self.add(&text, kind);
        Ok(())
    }

    /// Adds the profiles of one file's `text`.
    pub(super) fn add(&mut self, text: &str, kind: FileKind) {
        for (section, properties) in parse(text) {
            let name = match kind {
                FileKind::Credentials => section,
                FileKind::Config => match section.strip_prefix("profile") {
                    Some(rest) if rest.starts_with([' ', '\t']) => rest.trim().to_owned(),
                    _ if section == "default" => section,
                    // sso-session, services and the like: not profiles.
                    _ => continue,
                },
            };
            let own = self.by_file[kind as usize].entry(name.clone()).or_default();
            own.extend(properties.iter().cloned());
            let profile = self.profiles.entry(name).or_default();
            for (key, value) in properties {
                // The credentials file is read last: its properties win.
                profile.insert(key, value);
            }
        }
    }

    /// The static keys of `profile`: from the credentials file when it names a key there, else from
    /// the config file.
    pub(super) fn static_keys(&self, profile: &str) -> Option<Result<Credentials, CredentialsError>> {
        let [config, credentials] = &self.by_file;
        let has_key =
            |props: &&BTreeMap<String, String>| props.get("aws_access_key_id").is_some_and(|v| !v.trim().is_empty());
        let props = credentials.get(profile).filter(has_key).or_else(|| config.get(profile))?;
        static_keys(props)
    }

    pub(super) fn where_looked(&self) -> String {
        let all: Vec<String> =
            self.read.iter().chain(&self.missing).map(|p| p.display().to_string()).collect::<Vec<_>>();
        if all.is_empty() { "no profile file (HOME is not set)".to_owned() } else { all.join(" and ") }
    }

    pub(crate) fn get(&self, profile: &str) -> Option<&BTreeMap<String, String>> {
        self.profiles.get(profile)
    }

    /// The region of `profile`, if it names one.
    pub(crate) fn region(&self, profile: &str) -> Option<String> {
        self.get(profile)?.get("region").map(|r| r.trim().to_owned()).filter(|r| !r.is_empty())
    }
}

#[derive(Clone, Copy)]
pub(crate) enum FileKind {
    Config = 0,
    Credentials = 1,
}

fn expand_home(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~/").or_else(|| path.strip_prefix("~\\")), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if path == "~" => home.map_or_else(|| PathBuf::from(path), Path::to_owned),
        _ => PathBuf::from(path),
    }
}

/// Parses the INI dialect of the AWS files: `[section]` headers (a comment may follow them),
/// `key = value` (or `key: value`), whole-line comments starting with `#` or `;`, and lines indented
/// deeper than the property before them that continue its value (nested settings such as `s3 =`). Keys are lower-cased;
/// sections keep their order, and a section given twice is merged.
pub(crate) fn parse(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut current: Option<usize> = None;
    // The indentation of the line that started the last value, and that value's place: a line
    // indented deeper continues it.
    let mut value_at: Option<(usize, usize)> = None;
    for raw in text.lines() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if let Some((start, at)) = value_at
            && indent > start
            && let Some(i) = current
            && let Some((_, value)) = sections[i].1.get_mut(at)
        {
            if !value.is_empty() {
                value.push('\n');
            }
            value.push_str(trimmed);
            continue;
        }
        value_at = None;
        if let Some(rest) = trimmed.strip_prefix('[') {
            current = None;
            let Some(end) = rest.find(']') else { continue };
            let after = rest[end + 1..].trim();
            if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
                continue;
            }
            let name = rest[..end].trim().to_owned();
            current = Some(match sections.iter().position(|(n, _)| *n == name) {
                Some(i) => i,
                None => {
                    sections.push((name, Vec::new()));
                    sections.len() - 1
                }
            });
            continue;
        }
        let Some(i) = current else { continue };
        let Some(split) = trimmed.find(['=', ':']) else { continue };
        let key = trimmed[..split].trim().to_ascii_lowercase();
        let value = trimmed[split + 1..].trim().to_owned();
        if key.is_empty() {
            continue;
        }
        let properties = &mut sections[i].1;
        let at = match properties.iter().position(|(k, _)| *k == key) {
            Some(at) => {
                properties[at].1 = value;
                at
            }
            None => {
                properties.push((key, value));
                properties.len() - 1
            }
        };
        value_at = Some((indent, at));
    }
    sections
}

/// The static keys of a profile: `None` without `aws_access_key_id`, an error when half there.
pub(super) fn static_keys(profile: &BTreeMap<String, String>) -> Option<Result<Credentials, CredentialsError>> {
    let get = |key: &str| profile.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let id = get("aws_access_key_id")?;
    let Some(secret) = get("aws_secret_access_key") else {
        return Some(Err(CredentialsError::invalid(
            "the shared profile files",
            "a profile sets aws_access_key_id without aws_secret_access_key",
        )));
    };
    let credentials = Credentials::new(id, secret);
    Some(Ok(match get("aws_session_token") {
        Some(token) => credentials.with_session_token(token),
        None => credentials,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_dialect() {
        let parsed = parse(
            "# comment\n[default]\naws_access_key_id = AKID\n; other comment\nAWS_Secret_Access_Key=sec=ret\n\
             s3 =\n  addressing_style = path\n  max_concurrent_requests = 20\n[profile dev] # note\nregion: eu-west-1\n\
             [broken\nkey = lost\n[default]\nregion = us-east-2\n",
        );
        assert_eq!(parsed.len(), 2);
        let (name, props) = &parsed[0];
        assert_eq!(name, "default");
        let get = |k: &str| props.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("aws_secret_access_key"), Some("sec=ret"));
        assert_eq!(get("s3"), Some("addressing_style = path\nmax_concurrent_requests = 20"));
        assert_eq!(get("region"), Some("us-east-2"));
        assert_eq!(parsed[1].0, "profile dev");
        assert!(get("key").is_none());
    }
}
