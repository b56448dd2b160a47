//! The quick start runs as the README says: on the embedded server with no configuration, and
//! against another server (Garage, region `auto` like R2) by configuration alone.

#![cfg(feature = "testing")]

mod support;

use std::process::Command;

fn quickstart(env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(support::example("quickstart"));
    for var in ["S3_BUCKET", "S3_REGION", "S3_ENDPOINT", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_SESSION_TOKEN"]
    {
        cmd.env_remove(var);
    }
    let out = cmd.envs(env.iter().copied()).output().expect("run quickstart");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn quickstart_on_the_embedded_server() {
    let (ok, output) = quickstart(&[]);
    assert!(ok, "{output}");
    assert!(output.contains("embedded S3 server"), "{output}");
    for step in ["[1]", "[2]", "HTTP 200", "[3]", "[4]", "Content-Disposition: attachment", "Done"] {
        assert!(output.contains(step), "missing {step:?} in:\n{output}");
    }
}

#[test]
fn quickstart_against_garage_by_configuration_only() {
    let Some(server) = support::servers::garage() else { return };
    let (ok, output) = quickstart(&[
        ("S3_BUCKET", server.bucket.as_str()),
        ("S3_REGION", server.region.as_str()),
        ("S3_ENDPOINT", server.endpoint.as_str()),
        ("S3_ACCESS_KEY_ID", server.access_key.as_str()),
        ("S3_SECRET_ACCESS_KEY", server.secret.as_str()),
    ]);
    assert!(ok, "{output}");
    assert!(output.contains("Using bucket") && output.contains("Done"), "{output}");
}

fn doctor(env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new(support::example("doctor"));
    for var in ["S3_BUCKET", "S3_REGION", "S3_ENDPOINT", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_SESSION_TOKEN"]
    {
        cmd.env_remove(var);
        cmd.env_remove(var.replacen("S3_", "AWS_", 1));
    }
    // The credentials chain sees only what each case gives it: no profile files, no role, no
    // instance metadata.
    for var in [
        "AWS_PROFILE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_DEFAULT_REGION",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", "/nonexistent-home").env("AWS_EC2_METADATA_DISABLED", "true");
    let out = cmd.envs(env.iter().copied()).args(args).output().expect("run doctor");
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_checks_a_configuration() {
    let (code, output) = doctor(&[], &[]);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("FAIL  configuration") && output.contains("fix: set S3_BUCKET"), "{output}");

    let Some(server) = tokio::task::spawn_blocking(support::servers::garage).await.expect("garage") else { return };
    let env = |secret: &'static str| -> Vec<(&'static str, String)> {
        vec![
            ("S3_BUCKET", server.bucket.clone()),
            ("S3_REGION", server.region.clone()),
            ("S3_ENDPOINT", server.endpoint.clone()),
            ("S3_ACCESS_KEY_ID", server.access_key.clone()),
            ("S3_SECRET_ACCESS_KEY", if secret.is_empty() { server.secret.clone() } else { secret.to_owned() }),
        ]
    };
    let refs = |env: &[(&'static str, String)]| -> Vec<(&'static str, String)> { env.to_vec() };
    let run = |env: Vec<(&'static str, String)>, args: &[&str]| {
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        doctor(&pairs, args)
    };
    let origin = "http://127.0.0.1:4321";

    // No CORS rule yet: everything passes but CORS, which says how to fix it.
    let (code, output) = run(refs(&env("")), &["--origin", origin]);
    assert_eq!(code, Some(1), "{output}");
    for line in [
        "PASS  configuration",
        "PASS  credentials and bucket",
        "PASS  clock",
        "FAIL  CORS",
        "PASS  presigned PUT/GET",
        "FAIL  CORS exposes ETag",
    ] {
        assert!(output.contains(line), "missing {line:?} in:\n{output}");
    }
    assert!(output.contains("for_browser_uploads"), "{output}");

    // A rule that allows the upload but hides the ETag: large browser uploads would fail, and the
    // doctor says so.
    let mut hidden = stowage::CorsConfiguration::for_browser_uploads([origin]);
    hidden.rules[0].expose_headers.clear();
    server.storage().await.put_bucket_cors(&hidden).await.expect("cors");
    let (code, output) = run(refs(&env("")), &["--origin", origin]);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("PASS  CORS:") && output.contains("FAIL  CORS exposes ETag"), "{output}");
    assert!(output.contains("ExposeHeader"), "{output}");

    // With the rule: all checks pass.
    server
        .storage()
        .await
        .put_bucket_cors(&stowage::CorsConfiguration::for_browser_uploads([origin]))
        .await
        .expect("cors");
    let (code, output) = run(refs(&env("")), &["--origin", origin]);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("PASS  CORS exposes ETag"), "{output}");
    assert!(output.contains("All checks passed."), "{output}");

    // A wrong secret: the credentials check fails and names the variable to fix.
    let (code, output) = run(refs(&env("0000000000000000000000000000000000000000000000000000000000000000")), &[]);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("FAIL  credentials and bucket") && output.contains("S3_SECRET_ACCESS_KEY"), "{output}");
    assert!(
        output.contains("PASS  credentials: key GK") && output.contains("from the environment: long-term keys"),
        "{output}"
    );

    // Temporary credentials from a container endpoint: the doctor names the source, the expiry and
    // why each source before it was passed over.
    use support::credential_servers::{ContainerEndpoint, Served};
    let endpoint =
        ContainerEndpoint::start(Served::new(&server.access_key, &server.secret, time::Duration::hours(2))).await;
    let place = |extra: Vec<(&'static str, String)>| {
        let mut env = vec![
            ("S3_BUCKET", server.bucket.clone()),
            ("S3_REGION", server.region.clone()),
            ("S3_ENDPOINT", server.endpoint.clone()),
        ];
        env.extend(extra);
        env
    };
    let (code, output) =
        run(place(vec![("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.full_uri())]), &["--origin", origin]);
    assert_eq!(code, Some(0), "{output}");
    for line in [
        "PASS  credentials: key GK",
        "from the container credentials endpoint: temporary, expire at",
        "(in 119 min)",
        "passed over the environment: neither S3_ACCESS_KEY_ID nor AWS_ACCESS_KEY_ID is set",
        "passed over web identity",
        "All checks passed.",
    ] {
        assert!(output.contains(line), "missing {line:?} in:\n{output}");
    }
    assert!(!output.contains(&server.secret) && !output.contains("TOKEN-GK"), "a secret in the output:\n{output}");

    // A source that is configured wrongly, and none at all: the doctor fails on credentials and says why.
    let (code, output) = run(place(vec![("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.9.9.9/creds".into())]), &[]);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("FAIL  credentials:") && output.contains("use https"), "{output}");
    let (code, output) = run(place(vec![]), &[]);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("FAIL  credentials: no credentials found") && output.contains("AWS_PROFILE"), "{output}");
}

/// `cargo run --example upload -- <file> [key]`: a file over the threshold goes up in parts, and
/// the object is checked with a HEAD; on Garage by configuration alone, then read back.
#[test]
fn upload_example_sends_a_file_in_parts() {
    let dir = support::servers::TempDir::new("upload-example");
    let path = dir.0.join("forty-mib.bin");
    let data: Vec<u8> = (0..40 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&path, &data).expect("write");
    let mut cmd = Command::new(support::example("upload"));
    for var in ["S3_BUCKET", "S3_REGION", "S3_ENDPOINT", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "UPLOAD_PART_SIZE"]
    {
        cmd.env_remove(var);
    }
    let out = cmd.arg(&path).output().expect("run the upload example");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    for expected in [
        "embedded S3 server",
        "5 parts",
        "Uploaded 40.00 MiB in 5 parts",
        "-5\"",
        "Verified with a HEAD: 41943040 bytes",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    let Some(server) = support::servers::garage() else { return };
    let out = Command::new(support::example("upload"))
        .arg(&path)
        .arg("big/forty.bin")
        .env("S3_BUCKET", &server.bucket)
        .env("S3_REGION", &server.region)
        .env("S3_ENDPOINT", &server.endpoint)
        .env("S3_ACCESS_KEY_ID", &server.access_key)
        .env("S3_SECRET_ACCESS_KEY", &server.secret)
        .env("UPLOAD_PART_SIZE", "6291456")
        .output()
        .expect("run the upload example");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("7 parts") && text.contains("Verified with a HEAD"), "{text}");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let stored = runtime.block_on(async {
        use stowage::Storage;
        let object = server
            .storage()
            .await
            .get_object("big/forty.bin", &stowage::GetOptions::new())
            .await
            .expect("get")
            .expect("stored");
        object.bytes().await.expect("body")
    });
    assert!(stored.as_ref() == data.as_slice(), "the object read back is the file");

    // With a checksum: computed while the file streams, each part's checked by Garage, and the
    // whole file's (combined from the parts) accepted by Garage at completion and printed. (The
    // hasher's values are checked against awscrt's in tests/integrity.rs.)
    let out = Command::new(support::example("upload"))
        .args(["--checksum", "crc64nvme"])
        .arg(&path)
        .arg("big/forty-crc.bin")
        .env("S3_BUCKET", &server.bucket)
        .env("S3_REGION", &server.region)
        .env("S3_ENDPOINT", &server.endpoint)
        .env("S3_ACCESS_KEY_ID", &server.access_key)
        .env("S3_SECRET_ACCESS_KEY", &server.secret)
        .env("UPLOAD_PART_SIZE", "6291456")
        .output()
        .expect("run the upload example");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    let expected = stowage::checksum::ChecksumHasher::of(stowage::checksum::ChecksumAlgorithm::Crc64Nvme, &data);
    assert!(
        text.contains(&format!("Checksum CRC64NVME of the whole file, verified by the bucket: {expected}")),
        "{text}"
    );
    let bad = Command::new(support::example("upload")).args(["--checksum", "md5"]).arg(&path).output().expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a checksum S3 verifies"));
}
