//! Credentials where services run, against real implementations where this machine can run them:
//! STS AssumeRoleWithWebIdentity and AssumeRole by moto's server (a child process); the container
//! endpoint and IMDSv2 by loopback servers written from the AWS documentation
//! (`support::credential_servers`); profiles and `credential_process` from temporary files; the
//! refresh rules of the backend's cache against s3s-fs; a key rotation end to end on Garage.
//!
//! Every error met on the way is checked for the secrets, tokens and authorization tokens involved.

#![cfg(feature = "testing")]

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stowage::credentials::{CredentialSource, CredentialsChain, CredentialsError, ProvideCredentials};
use stowage::{Error, GetOptions, PresignExpiry, PutOptions, S3Config, S3Storage, Storage};
use support::credential_servers::{Behaviour, ContainerEndpoint, Imds, Served, moto};
use support::raw_http;
use support::servers::{self, Server, TempDir};

/// Everything secret the tests hand out; no error or status may show any of it.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn secret(value: impl Into<String>) -> String {
    let value = value.into();
    SECRETS.lock().unwrap().push(value.clone());
    value
}

/// Checks that `text` (an error's Display and Debug, a status) shows no secret.
fn clean(text: &str) {
    for s in SECRETS.lock().unwrap().iter() {
        assert!(!text.contains(s.as_str()), "a secret ({}…) leaked into: {text}", &s[..s.len().min(6)]);
    }
}

fn shown(e: &impl std::fmt::Debug) -> String {
    let text = format!("{e:?}");
    clean(&text);
    text
}

fn err_text(e: &CredentialsError) -> String {
    let text = format!("{e} | {e:?}");
    clean(&text);
    text
}

/// Variables for a chain: HOME points nowhere (the real ~/.aws stays out) and instance metadata is
/// off unless a test turns it on.
fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let mut all: Vec<(String, String)> =
        vec![("HOME".into(), "/nonexistent-home".into()), ("AWS_EC2_METADATA_DISABLED".into(), "true".into())];
    for (k, v) in pairs {
        all.retain(|(name, _)| name != k);
        all.push(((*k).to_owned(), (*v).to_owned()));
    }
    move |name| all.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

fn only(source: CredentialSource, pairs: &[(&str, &str)]) -> CredentialsChain {
    CredentialsChain::from_lookup(vars(pairs)).only(&[source])
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[cfg(unix)]
fn script(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = write(dir, name, &format!("#!/bin/sh\n{body}\n"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn in_the_future(t: Option<time::OffsetDateTime>, within: time::Duration) {
    let t = t.expect("an expiry");
    let now = time::OffsetDateTime::now_utc();
    assert!(t > now && t <= now + within, "expiry {t} not within {within} from now");
}

/// A backend for `server` whose credentials come from `provider`.
fn storage_with(server: &Server, provider: impl ProvideCredentials + 'static) -> S3Config {
    S3Config::new(server.bucket.as_str(), server.region.as_str(), provider).with_endpoint(server.endpoint.as_str())
}

fn container_chain(endpoint: &ContainerEndpoint) -> CredentialsChain {
    only(CredentialSource::Container, &[("AWS_CONTAINER_CREDENTIALS_FULL_URI", &endpoint.full_uri())])
}

async fn round_trip(storage: &S3Storage, key: &str) {
    storage.put_object(key, "hello".into(), &PutOptions::new()).await.expect("put");
    assert_eq!(storage.head_object(key, &stowage::GetOptions::new()).await.expect("head").expect("stored").size, 5);
    let url = storage.presign_get(key, &GetOptions::new(), Duration::from_secs(60)).expect("presign");
    let got = raw_http::send("GET", &url.url, &[], &[]).await;
    assert_eq!((got.status, got.text().as_str()), (200, "hello"), "presigned GET");
}

#[tokio::test]
async fn environment_variables_sign_at_once() {
    let s3 = servers::s3s().await;
    let config = S3Config::from_lookup(vars(&[
        ("S3_BUCKET", &s3.bucket),
        ("S3_REGION", &s3.region),
        ("S3_ENDPOINT", &s3.endpoint),
        ("AWS_ACCESS_KEY_ID", &s3.access_key),
        ("AWS_SECRET_ACCESS_KEY", &secret(s3.secret.clone())),
    ]))
    .expect("config");
    let storage = config.build().await.expect("storage");
    // Ready without any await: presigning works straight away.
    storage.presign_get("k", &GetOptions::new(), Duration::from_secs(60)).expect("presign");
    round_trip(&storage, "env/a.txt").await;
    let status = storage.credentials_status();
    assert_eq!((status.source.as_str(), status.rotating), ("the environment", false));
    shown(&status);
    shown(&storage);

    let half = S3Config::from_lookup(vars(&[("S3_BUCKET", "b"), ("S3_REGION", "auto"), ("S3_ACCESS_KEY_ID", "x")]));
    let Err(Error::Config(message)) = half else { panic!("a half-set pair is refused") };
    assert!(message.contains("S3_SECRET_ACCESS_KEY"), "{message}");
}

#[cfg(unix)]
#[tokio::test]
async fn profiles_static_keys_process_loops_and_missing() {
    let s3 = servers::s3s().await;
    let dir = TempDir::new("profiles");
    let good_json = format!(
        r#"{{"Version": 1, "AccessKeyId": "{}", "SecretAccessKey": "{}", "SessionToken": "{}", "Expiration": "2999-01-01T00:00:00Z"}}"#,
        s3.access_key,
        s3.secret,
        secret("process-session-token-xyz")
    );
    let good = script(dir.0.as_path(), "good.sh", &format!("cat <<'EOF'\n{good_json}\nEOF"));
    let failing =
        script(dir.0.as_path(), "fail.sh", "echo 'the SSO session has expired; run aws sso login' >&2\nexit 2");
    let garbage = script(
        dir.0.as_path(),
        "garbage.sh",
        &format!("echo '{{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"{}\"'", secret("garbage-secret-value")),
    );
    let hang = script(dir.0.as_path(), "hang.sh", "sleep 30");
    let config = write(
        dir.0.as_path(),
        "config",
        &format!(
            "[default]\nregion = us-west-2\n\n[profile app]\nregion = eu-central-1\n\n\
             [profile proc]\ncredential_process = {good}\n[profile fails]\ncredential_process = {failing}\n\
             [profile garbage]\ncredential_process = {garbage}\n[profile hangs]\ncredential_process = {hang}\n\
             [profile loop-a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = loop-b\n\
             [profile loop-b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = loop-a\n"
        ),
    );
    let credentials = write(
        dir.0.as_path(),
        "credentials",
        &format!(
            "[app]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            s3.access_key,
            secret(s3.secret.clone())
        ),
    );
    let files = |profile: &'static str| {
        let mut pairs = vec![
            ("AWS_CONFIG_FILE", config.clone()),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.clone()),
            ("AWS_PROFILE", profile.to_owned()),
            ("S3_BUCKET", s3.bucket.clone()),
            ("S3_ENDPOINT", s3.endpoint.clone()),
        ];
        if profile != "app" {
            pairs.push(("S3_REGION", s3.region.clone()));
        }
        pairs
    };
    let lookup = |profile: &'static str| {
        let pairs = files(profile);
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        vars(&refs)
    };

    // Keys in the credentials file, region from the config file: ready without the network.
    let storage = S3Config::from_lookup(lookup("app")).expect("config").build().await.expect("storage");
    assert_eq!(storage.signer().expect("signer").region(), "eu-central-1");
    round_trip(&storage, "profile/static.txt").await;
    let status = storage.credentials_status();
    assert!(status.source.contains("profile \"app\""), "{status:?}");
    assert!(status.skipped.iter().any(|s| s.source == "the environment"), "{status:?}");

    // credential_process: fetched, then used.
    let storage = S3Config::from_lookup(lookup("proc")).expect("config").build().await.expect("storage");
    storage.refresh_credentials().await.expect("credential_process");
    round_trip(&storage, "profile/process.txt").await;
    assert_eq!(storage.credentials_status().expires_at.map(|t| t.year()), Some(2999));

    // A default file that cannot be read (here a directory) is passed over, so that the sources after
    // profiles are still tried; a file named by AWS_CONFIG_FILE must be readable.
    let home = TempDir::new("unreadable-home");
    std::fs::create_dir_all(home.0.join(".aws/config")).expect("a directory where the file would be");
    let home_path = home.0.display().to_string();
    let e = only(CredentialSource::Profile, &[("HOME", &home_path)]).provide().await.expect_err("nothing");
    assert!(matches!(e, CredentialsError::NoneFound { .. }), "{}", err_text(&e));
    let named = home.0.join(".aws/config").display().to_string();
    let e = only(CredentialSource::Profile, &[("AWS_CONFIG_FILE", &named)]).provide().await.expect_err("unreadable");
    assert!(matches!(e, CredentialsError::InvalidConfig { .. }) && e.to_string().contains("cannot read"), "{e}");

    // Each broken profile: a typed error naming the profile, within the bounded load time.
    for (profile, expect) in [
        ("fails", "exited with 2: the SSO session has expired"),
        ("garbage", "unusable answer"),
        ("hangs", "no answer within 1 s"),
        ("loop-a", "source_profile loops: loop-a → loop-b → loop-a"),
        ("missing", "no such profile"),
    ] {
        let started = Instant::now();
        // The backend is built with its credentials in hand, or not at all.
        let built = S3Config::from_lookup(lookup(profile))
            .expect("config")
            .with_credentials_load_timeout(Duration::from_secs(1))
            .build()
            .await;
        let Err(Error::Credentials(e)) = built else { panic!("{profile}: built without credentials") };
        let text = err_text(&e);
        assert!(text.contains(expect), "{profile}: {text}");
        assert!(text.contains(profile) || profile == "hangs", "{profile} not named: {text}");
        assert!(started.elapsed() < Duration::from_secs(4), "{profile}: took {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn sts_roles_from_profiles_and_web_identity_against_moto() {
    let Some(moto) = moto() else { return };
    let dir = TempDir::new("sts");
    let token_file =
        write(dir.0.as_path(), "token", &format!("{}\n", secret("eyJhbGciOiJSUzI1NiJ9.web-identity-jwt.sig")));
    let config = write(
        dir.0.as_path(),
        "config",
        &format!(
            "[profile base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = {}\n\
             [profile role]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\n\
             role_session_name = stowage-test\nduration_seconds = 900\nexternal_id = ext-1\n\
             [profile chained]\nrole_arn = arn:aws:iam::123456789012:role/second\nsource_profile = role\n\
             [profile web]\nrole_arn = arn:aws:iam::123456789012:role/web\nweb_identity_token_file = {token_file}\n",
            secret("base-secret-key")
        ),
    );
    let sts = moto.endpoint.as_str();

    // AssumeRole, signed with the source profile's keys; and a role assumed from a role.
    for (profile, within) in [("role", 16), ("chained", 61), ("web", 61)] {
        let chain = only(
            CredentialSource::Profile,
            &[("AWS_CONFIG_FILE", &config), ("AWS_PROFILE", profile), ("AWS_ENDPOINT_URL_STS", sts)],
        );
        let c = chain.provide().await.unwrap_or_else(|e| panic!("{profile}: {}", err_text(&e)));
        assert!(c.access_key_id().starts_with("ASIA"), "{profile}: {}", c.access_key_id());
        assert!(c.has_session_token(), "{profile}");
        in_the_future(c.expires_at(), time::Duration::minutes(within));
        assert!(chain.last_resolution().unwrap().source.contains(profile));
    }

    // Web identity from the environment (EKS IRSA).
    let env = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.as_str()),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa"),
        ("AWS_ROLE_SESSION_NAME", "pod-1"),
        ("AWS_ENDPOINT_URL_STS", sts),
    ];
    let c = only(CredentialSource::WebIdentity, &env).provide().await.expect("web identity");
    assert!(c.access_key_id().starts_with("ASIA") && c.has_session_token());
    in_the_future(c.expires_at(), time::Duration::minutes(61));

    // Bad input: each a typed error naming the source and the file.
    let empty = write(dir.0.as_path(), "empty-token", "  \n");
    for (pairs, expect) in [
        (vec![("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token"), ("AWS_ROLE_ARN", "arn:r")], "/nonexistent/token"),
        (vec![("AWS_WEB_IDENTITY_TOKEN_FILE", empty.as_str()), ("AWS_ROLE_ARN", "arn:r")], "is empty"),
        (vec![("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.as_str())], "AWS_ROLE_ARN is not"),
    ] {
        let mut pairs = pairs;
        pairs.push(("AWS_ENDPOINT_URL_STS", sts));
        let e = CredentialsChain::from_lookup(vars(&pairs)).provide().await.expect_err("refused");
        let text = err_text(&e);
        assert!(matches!(e, CredentialsError::InvalidConfig { .. }), "{text}");
        assert!(text.contains("web identity") && text.contains(expect), "{text}");
    }
    // STS unreachable: a typed error naming the endpoint.
    let down = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.as_str()),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa"),
        ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9"),
    ];
    let e = only(CredentialSource::WebIdentity, &down).provide().await.expect_err("unreachable");
    assert!(matches!(e, CredentialsError::Unreachable { .. }), "{}", err_text(&e));
}

#[tokio::test]
async fn container_endpoint_relative_full_token_and_refusals() {
    let served = Served::new("ASIACONTAINER1", &secret("container-secret-1"), time::Duration::hours(6));
    let endpoint = ContainerEndpoint::start(served).await;

    // ECS: a relative URI on the agent's address (here, the loopback server).
    let relative = only(CredentialSource::Container, &[("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", endpoint.path)])
        .with_container_relative_base(endpoint.base.as_str());
    let c = relative.provide().await.expect("relative");
    assert_eq!(c.access_key_id(), "ASIACONTAINER1");
    in_the_future(c.expires_at(), time::Duration::hours(6));

    // EKS Pod Identity: a full URI and a token file, read again at every call.
    let dir = TempDir::new("container");
    let auth = secret("pod-identity-auth-token-1");
    endpoint.require_token(&auth);
    let token_file = write(dir.0.as_path(), "token", &format!("{auth}\n"));
    let full = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.full_uri()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file.clone()),
    ];
    let pairs: Vec<(&str, &str)> = full.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let chain = only(CredentialSource::Container, &pairs);
    assert_eq!(chain.provide().await.expect("full uri").access_key_id(), "ASIACONTAINER1");
    let rotated = secret("pod-identity-auth-token-2");
    endpoint.require_token(&rotated);
    std::fs::write(&token_file, &rotated).expect("rotate token");
    assert_eq!(chain.provide().await.expect("rotated token file").access_key_id(), "ASIACONTAINER1");

    // The token in a variable; a wrong one is refused with 401.
    let wrong = only(
        CredentialSource::Container,
        &[("AWS_CONTAINER_CREDENTIALS_FULL_URI", &endpoint.full_uri()), ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "nope")],
    );
    let e = wrong.provide().await.expect_err("wrong token");
    assert!(matches!(e, CredentialsError::Rejected { status: 401, .. }), "{}", err_text(&e));

    // Plain http to a host that is not loopback: refused before any request, as the SDKs refuse it.
    let before = endpoint.requests();
    for uri in ["http://10.20.30.40:8080/creds", "http://example.com/creds"] {
        let e = only(CredentialSource::Container, &[("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri)])
            .provide()
            .await
            .expect_err("refused");
        assert!(matches!(e, CredentialsError::InvalidConfig { .. }) && e.to_string().contains("https"), "{e}");
    }
    assert_eq!(endpoint.requests(), before);

    // Missing token file.
    let e = only(
        CredentialSource::Container,
        &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &endpoint.full_uri()),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/pod-token"),
        ],
    )
    .provide()
    .await
    .expect_err("no token file");
    assert!(err_text(&e).contains("/nonexistent/pod-token"));

    // What the endpoint answers: errors, garbage, stale and unreadable expiries.
    for (behaviour, check) in [
        (Behaviour::Status(404, "{}"), "404"),
        (Behaviour::Status(500, "{\"message\":\"agent restarting\"}"), "agent restarting"),
        (Behaviour::Garbage, "unusable answer"),
        (Behaviour::Stale, "before they were received"),
        (Behaviour::BadExpiry, "not an RFC 3339 time"),
    ] {
        endpoint.behave(behaviour.clone());
        let before = endpoint.requests();
        let e = chain.provide().await.expect_err("refused");
        let text = err_text(&e);
        assert!(text.contains(check) && text.contains("container credentials endpoint"), "{behaviour:?}: {text}");
        if matches!(behaviour, Behaviour::Status(500, _)) {
            assert_eq!(endpoint.requests() - before, 3, "a 5xx is tried three times");
        }
    }
}

#[tokio::test]
async fn instance_metadata_v2_tokens_ttl_roles_and_failures() {
    let served = Served::new("ASIAINSTANCE1", &secret("instance-secret-1"), time::Duration::hours(6));
    let imds = Imds::start(served).await;
    let on = |endpoint: &str| {
        only(
            CredentialSource::InstanceMetadata,
            &[("AWS_EC2_METADATA_DISABLED", "false"), ("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint)],
        )
    };
    let chain = on(&imds.endpoint);
    let c = chain.provide().await.expect("imds");
    assert_eq!(c.access_key_id(), "ASIAINSTANCE1");
    in_the_future(c.expires_at(), time::Duration::hours(6));
    chain.provide().await.expect("again");
    imds.with(|s| {
        assert_eq!(s.token_requests, 1, "the session token is kept");
        assert_eq!(s.ttls_asked, ["21600"], "a TTL is asked for");
        assert_eq!(s.reads_refused, 0, "every read carries the token");
        assert_eq!(s.reads_with_token, 4);
    });

    // A token that expired: 401, then a new token, then the credentials.
    imds.with(|s| s.token_life = Some(Duration::from_millis(100)));
    let fresh = on(&imds.endpoint);
    fresh.provide().await.expect("first token");
    tokio::time::sleep(Duration::from_millis(200)).await;
    fresh.provide().await.expect("after the token expired");
    imds.with(|s| {
        assert_eq!(s.token_requests, 3);
        assert!(s.reads_refused >= 1);
        s.token_life = None;
    });

    // 5xx is retried; too many, a typed error.
    imds.with(|s| s.failures_left = 2);
    on(&imds.endpoint).provide().await.expect("two 500s, then success");
    imds.with(|s| s.failures_left = 10);
    let e = on(&imds.endpoint).provide().await.expect_err("500s");
    assert!(matches!(e, CredentialsError::Rejected { status: 500, .. }), "{}", err_text(&e));
    imds.with(|s| s.failures_left = 0);

    // No role attached; garbage; a stale expiry.
    imds.with(|s| s.role = None);
    let e = on(&imds.endpoint).provide().await.expect_err("no role");
    assert!(err_text(&e).contains("no IAM role is attached"), "{e}");
    imds.with(|s| {
        s.role = Some("test-instance-role".into());
        s.behaviour = Behaviour::Garbage;
    });
    assert!(matches!(on(&imds.endpoint).provide().await, Err(CredentialsError::BadResponse { .. })));
    imds.with(|s| s.behaviour = Behaviour::Stale);
    assert!(matches!(on(&imds.endpoint).provide().await, Err(CredentialsError::BadResponse { .. })));
    imds.with(|s| s.behaviour = Behaviour::Serve);

    // The token request never answered (a container behind a hop limit of 1): bounded, and the
    // error explains the hop limit. As the chain's last source, that reads as "not on EC2".
    imds.with(|s| s.silent_token = true);
    let started = Instant::now();
    let e = on(&imds.endpoint).provide().await.expect_err("silent");
    let text = err_text(&e);
    assert!(matches!(e, CredentialsError::NoneFound { .. }), "{text}");
    assert!(text.contains("hop limit") && text.contains("--http-put-response-hop-limit 2"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(6), "took {:?}", started.elapsed());
    let direct = stowage::credentials::InstanceMetadataCredentials::from_env().with_endpoint(imds.endpoint.as_str());
    assert!(matches!(direct.provide().await, Err(CredentialsError::Timeout { .. })));

    // Nothing listening; and turned off.
    let e = on("http://127.0.0.1:9").provide().await.expect_err("refused");
    assert!(err_text(&e).contains("not an EC2 instance"), "{e}");
    let off = only(CredentialSource::InstanceMetadata, &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.endpoint)]);
    let e = off.provide().await.expect_err("disabled");
    assert!(err_text(&e).contains("AWS_EC2_METADATA_DISABLED is true"), "{e}");
}

#[tokio::test]
async fn refresh_single_flight_early_refresh_and_endpoint_down() {
    let s3 = servers::s3s().await;
    let keys = |expires_in| Served::new(&s3.access_key, &secret(s3.secret.clone()), expires_in);

    // Built with its credentials in hand: one fetch, then 200 concurrent requests fetch nothing.
    let endpoint = ContainerEndpoint::start(keys(time::Duration::hours(1))).await;
    let storage = storage_with(&s3, container_chain(&endpoint)).build().await.expect("storage");
    assert_eq!(endpoint.requests(), 1, "build fetched the credentials");
    storage.put_object("refresh/a.txt", "a".into(), &PutOptions::new()).await.expect("put");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let storage = storage.clone();
        tasks.spawn(async move {
            storage.head_object("refresh/a.txt", &GetOptions::new()).await.map(|m| m.map(|m| m.size))
        });
    }
    while let Some(done) = tasks.join_next().await {
        assert_eq!(done.expect("task").expect("head"), Some(1));
    }
    assert_eq!(endpoint.requests(), 1, "200 concurrent requests, no fetch");

    // Six minutes from expiry: inside the refresh window, so the next use refreshes — once, in the
    // background, however many presign at the same moment.
    endpoint.serve(keys(time::Duration::minutes(6)));
    let storage = storage_with(&s3, container_chain(&endpoint)).build().await.expect("storage");
    let loaded = endpoint.requests();
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the first backoff step
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let storage = storage.clone();
        tasks.spawn(async move {
            storage.presign_get("refresh/a.txt", &GetOptions::new(), Duration::from_secs(60)).map(|p| p.url)
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task").expect("presign while refreshing");
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while endpoint.requests() == loaded && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(endpoint.requests() - loaded, 1, "one background refresh for 200 presigns");
    assert_eq!(storage.credentials_status().fetches, 2);

    // The endpoint goes down while the credentials are valid: signing goes on; the failure is kept.
    endpoint.stop().await;
    tokio::time::sleep(Duration::from_millis(2100)).await; // past the backoff of the refresh above
    for i in 0..5 {
        storage
            .head_object("refresh/a.txt", &stowage::GetOptions::new())
            .await
            .unwrap_or_else(|e| panic!("head {i}: {}", shown(&e)));
        storage.presign_get("refresh/a.txt", &GetOptions::new(), Duration::from_secs(60)).expect("presign");
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while storage.credentials_status().last_error.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = storage.credentials_status();
    assert!(matches!(status.last_error, Some(CredentialsError::Unreachable { .. })), "{}", shown(&status));
    storage.head_object("refresh/a.txt", &stowage::GetOptions::new()).await.expect("still signing");
}

#[tokio::test]
async fn expired_credentials_are_never_used_and_urls_end_with_them() {
    let s3 = servers::s3s().await;
    let keys = |expires_in| Served::new(&s3.access_key, &secret(s3.secret.clone()), expires_in);

    // A presigned URL ends when the credentials do: shortened by default, refused on request.
    let endpoint = ContainerEndpoint::start(keys(time::Duration::minutes(30))).await;
    let storage = storage_with(&s3, container_chain(&endpoint)).build().await.expect("storage");
    let until = storage.credentials_status().expires_at.expect("expiry");
    let url = storage.presign_put("expiry/a.txt", &PutOptions::new(), Duration::from_secs(7200)).expect("presign");
    assert!(url.expires_at <= until, "{} > {until}", url.expires_at);
    assert!(url.expires_at > until - time::Duration::seconds(5));
    let x_amz_expires: u64 =
        url.url.split("X-Amz-Expires=").nth(1).and_then(|v| v.split('&').next()).unwrap().parse().unwrap();
    assert!((1795..=1800).contains(&x_amz_expires), "X-Amz-Expires={x_amz_expires}");
    assert_eq!(raw_http::send("PUT", &url.url, &[], b"put").await.status, 200, "the shortened URL works");
    let short = storage.presign_get("expiry/a.txt", &GetOptions::new(), Duration::from_secs(300)).expect("presign");
    assert!(short.url.contains("X-Amz-Expires=300&"), "a URL inside the lifetime is left alone");
    let refusing = storage_with(&s3, container_chain(&endpoint))
        .with_presign_expiry(PresignExpiry::Refuse)
        .build()
        .await
        .expect("storage");
    let Err(Error::Credentials(e)) =
        refusing.presign_get("expiry/a.txt", &GetOptions::new(), Duration::from_secs(7200))
    else {
        panic!("refused")
    };
    assert!(matches!(e, CredentialsError::OutlivesCredentials { .. }), "{}", err_text(&e));

    // Credentials served with too little time to sign a request are a failed fetch, not a storm:
    // the backend is not built.
    endpoint.serve(keys(time::Duration::seconds(8)));
    let Err(Error::Credentials(e)) = storage_with(&s3, container_chain(&endpoint)).build().await else {
        panic!("built with credentials too short to sign with")
    };
    assert!(err_text(&e).contains("too soon to sign with"), "{e}");

    // Credentials with 17 s left, and the endpoint gone: requests sign with them while more than
    // 15 s remain, then get a typed error naming the source and the failed refresh; presigned URLs
    // still end with them.
    endpoint.serve(keys(time::Duration::seconds(18)));
    let storage = storage_with(&s3, container_chain(&endpoint)).build().await.expect("storage");
    endpoint.stop().await;
    storage.head_object("expiry/a.txt", &stowage::GetOptions::new()).await.expect("still usable");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let started = Instant::now();
    let Err(Error::Credentials(e)) = storage.head_object("expiry/a.txt", &stowage::GetOptions::new()).await else {
        panic!("credentials about to expire used for a request")
    };
    let text = err_text(&e);
    assert!(matches!(e, CredentialsError::Expired { last_error: Some(_), .. }), "{text}");
    assert!(text.contains("container credentials endpoint") && text.contains("refreshing them failed"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let url = storage.presign_get("expiry/a.txt", &GetOptions::new(), Duration::from_secs(600)).expect("presign");
    let x_amz_expires: u64 =
        url.url.split("X-Amz-Expires=").nth(1).and_then(|v| v.split('&').next()).unwrap().parse().unwrap();
    assert!((1..=15).contains(&x_amz_expires), "X-Amz-Expires={x_amz_expires}");

    // Past their expiry, credentials presign nothing: rotating ones (seen from a clock 40 s ahead)…
    let fresh = ContainerEndpoint::start(keys(time::Duration::seconds(30))).await;
    let ahead = storage_with(&s3, container_chain(&fresh))
        .with_clock_skew(time::Duration::seconds(40))
        .build()
        .await
        .expect("storage");
    let Err(Error::Credentials(e)) = ahead.presign_get("k", &GetOptions::new(), Duration::from_secs(60)) else {
        panic!("expired credentials used for presigning")
    };
    assert!(matches!(e, CredentialsError::Expired { .. }), "{}", err_text(&e));
    // … and fixed ones given with an expiry, for presigning and for requests.
    let fixed = s3
        .config()
        .with_credentials(s3.credentials().with_expiry(time::OffsetDateTime::now_utc() - time::Duration::seconds(1)))
        .build()
        .await
        .expect("storage");
    let Err(Error::Credentials(e)) = fixed.presign_get("k", &GetOptions::new(), Duration::from_secs(60)) else {
        panic!("expired fixed credentials used for presigning")
    };
    assert!(matches!(e, CredentialsError::Expired { .. }), "{}", err_text(&e));
    let Err(Error::Credentials(e)) = fixed.head_object("expiry/a.txt", &stowage::GetOptions::new()).await else {
        panic!("expired fixed credentials used for a request")
    };
    assert!(matches!(e, CredentialsError::Expired { .. }), "{}", err_text(&e));

    // A fetch that hangs is bounded by the load timeout.
    let slow = ContainerEndpoint::start(keys(time::Duration::hours(1))).await;
    slow.behave(Behaviour::Slow(Duration::from_secs(30)));
    let started = Instant::now();
    let built =
        storage_with(&s3, container_chain(&slow)).with_credentials_load_timeout(Duration::from_secs(1)).build().await;
    let Err(Error::Credentials(e)) = built else { panic!("timeout") };
    assert!(matches!(e, CredentialsError::Timeout { .. }), "{}", err_text(&e));
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}

/// End to end on Garage: the keys the container endpoint serves are Garage keys. After a rotation —
/// the endpoint serves a new pair and the old key is deleted from Garage — requests go on.
#[tokio::test]
async fn garage_key_rotation_end_to_end() {
    let Some(garage) = servers::garage() else { return };
    let cli = |args: &[&str]| garage.garage_cli(args).expect("garage").unwrap_or_else(|e| panic!("{e}"));
    let (id_a, secret_a) = ("GK00000000000000000000000a", secret("a".repeat(64)));
    let (id_b, secret_b) = ("GK00000000000000000000000b", secret("b".repeat(64)));
    for (id, key) in [(id_a, &secret_a), (id_b, &secret_b)] {
        cli(&["key", "import", "--yes", "-n", id, id, key]);
        cli(&["bucket", "allow", "--read", "--write", garage.bucket.as_str(), "--key", id]);
    }
    let endpoint = ContainerEndpoint::start(Served::new(id_a, &secret_a, time::Duration::hours(1))).await;
    let storage = storage_with(&garage, container_chain(&endpoint)).build().await.expect("storage");
    round_trip(&storage, "rotation/before.txt").await;
    let old_url =
        storage.presign_get("rotation/before.txt", &GetOptions::new(), Duration::from_secs(600)).expect("presign");
    assert!(old_url.url.contains(id_a));
    assert_eq!(endpoint.requests(), 1);

    // Rotate: the endpoint serves B, and A is deleted from Garage.
    endpoint.serve(Served::new(id_b, &secret_b, time::Duration::hours(1)));
    cli(&["key", "delete", "--yes", id_a]);
    assert!(raw_http::send("GET", &old_url.url, &[], &[]).await.status >= 400, "A is really gone");

    round_trip(&storage, "rotation/after.txt").await;
    let new_url =
        storage.presign_get("rotation/after.txt", &GetOptions::new(), Duration::from_secs(600)).expect("presign");
    assert!(new_url.url.contains(id_b) && !new_url.url.contains(id_a), "the signing key follows the credentials");
    assert_eq!(storage.credentials_status().access_key_id.as_deref(), Some(id_b));
    assert_eq!(endpoint.requests(), 2, "one fetch for the rotation");
    assert_eq!(
        storage
            .head_object("rotation/before.txt", &stowage::GetOptions::new())
            .await
            .expect("head")
            .expect("stored")
            .size,
        5
    );

    // A real permission error (a read-only key) is not a rotation: the provider is asked once (here
    // it gives a new session token at every call, as STS-backed sources do, so the request is sent
    // once more), and refusals in the next seconds ask nobody.
    let (id_c, secret_c) = ("GK00000000000000000000000c", secret("c".repeat(64)));
    cli(&["key", "import", "--yes", "-n", id_c, id_c, &secret_c]);
    cli(&["bucket", "allow", "--read", garage.bucket.as_str(), "--key", id_c]);
    endpoint.serve(Served::new(id_c, &secret_c, time::Duration::hours(1)));
    endpoint.fresh_tokens();
    let before = endpoint.requests();
    let reader = storage_with(&garage, container_chain(&endpoint)).build().await.expect("storage");
    assert_eq!(
        reader
            .head_object("rotation/before.txt", &stowage::GetOptions::new())
            .await
            .expect("read")
            .expect("stored")
            .size,
        5
    );
    for _ in 0..3 {
        let refused =
            reader.put_object("rotation/denied.txt", "x".into(), &PutOptions::new()).await.expect_err("read-only");
        assert_eq!(refused.status(), Some(403), "{}", shown(&refused));
    }
    assert_eq!(endpoint.requests() - before, 2, "one load, one fetch after the first refusal, none after");
    tokio::time::sleep(Duration::from_millis(5100)).await;
    reader.put_object("rotation/denied.txt", "x".into(), &PutOptions::new()).await.expect_err("read-only");
    assert_eq!(endpoint.requests() - before, 3, "at most one fetch every few seconds");
}

#[tokio::test]
async fn debug_output_of_providers_and_configs_shows_no_secret() {
    let pairs = [
        ("AWS_ACCESS_KEY_ID", "AKIDDEBUG"),
        ("AWS_SECRET_ACCESS_KEY", "debug-secret-value-1"),
        ("AWS_SESSION_TOKEN", "debug-session-token-1"),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "debug-auth-token-1"),
        ("S3_BUCKET", "b"),
        ("S3_REGION", "eu-west-1"),
    ];
    for (_, v) in &pairs[1..4] {
        secret(*v);
    }
    let chain = CredentialsChain::from_lookup(vars(&pairs));
    shown(&chain);
    let config = S3Config::from_lookup(vars(&pairs)).expect("config");
    shown(&config);
    let storage = config.build().await.expect("storage");
    shown(&storage);
    shown(&storage.credentials_status());
    let rotating = S3Config::new("b", "eu-west-1", chain).build().await.expect("storage");
    shown(&rotating);
}

#[test]
fn a_provider_is_object_safe() {
    let chain: Arc<dyn ProvideCredentials> = Arc::new(CredentialsChain::from_lookup(vars(&[])));
    assert_eq!(chain.name(), "the default credentials chain");
    assert_eq!(CredentialsChain::from_lookup(vars(&[])).sources().len(), 5);
}
