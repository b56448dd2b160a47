//! The `presign` example, run as a user would: configuration from the environment, the URL alone on
//! the first line, then the headers to send; bad input gives a message on stderr and a non-zero exit.
//! Its URLs are checked against the botocore vectors.

mod support;

use std::process::{Command, Output};

use serde_json::Value;
use support::vectors::{read, vectors_dir};

fn run(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(support::example("presign"));
    for var in ["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_SESSION_TOKEN", "S3_BUCKET", "S3_REGION", "S3_ENDPOINT"]
    {
        cmd.env_remove(var);
        cmd.env_remove(var.replacen("S3_", "AWS_", 1));
    }
    cmd.env_remove("AWS_DEFAULT_REGION");
    cmd.envs(env.iter().copied()).args(args).output().expect("run the presign example")
}

#[test]
fn prints_botocore_identical_urls() {
    let Some(path) = vectors_dir("botocore-s3.json") else { return };
    let doc: Value = serde_json::from_str(&read(&path)).expect("JSON");
    let mut checked = 0;
    for v in doc["vectors"].as_array().expect("vectors") {
        let input = &v["input"];
        let s = |k: &str| input[k].as_str().unwrap_or_default().to_owned();
        if v["kind"] != "presign" || !input["query_overrides"].as_object().is_some_and(|q| q.is_empty()) {
            continue;
        }
        let mut env = vec![
            ("S3_ACCESS_KEY_ID", s("access_key_id")),
            ("S3_SECRET_ACCESS_KEY", s("secret_access_key")),
            ("S3_BUCKET", s("bucket")),
            ("S3_REGION", s("region")),
        ];
        if let Some(token) = input["session_token"].as_str() {
            env.push(("S3_SESSION_TOKEN", token.to_owned()));
        }
        let style = if s("addressing_style") == "virtual" { "--virtual-hosted" } else { "--path-style" };
        if !s("endpoint").contains("amazonaws.com") {
            env.push(("S3_ENDPOINT", s("endpoint")));
        }
        let expires = input["expires_in"].as_u64().expect("expires").to_string();
        let mut args = vec![style.to_owned(), "--at".into(), s("timestamp"), "--expires".into(), expires];
        let mut headers = Vec::new();
        for (name, value) in input["extra_signed_headers"].as_object().expect("headers") {
            args.push("--header".into());
            args.push(format!("{name}:{}", value.as_str().expect("value")));
            headers.push(format!("{name}: {}", value.as_str().expect("value")));
        }
        args.push(s("method"));
        args.push("--".into());
        args.push(s("key"));

        let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&env_refs, &arg_refs);
        let stdout = String::from_utf8(out.stdout).expect("UTF-8");
        assert!(out.status.success(), "{}: {}", v["id"], String::from_utf8_lossy(&out.stderr));
        let mut lines = stdout.lines();
        let expected_url = v["expected"]["url"].as_str().expect("url").replacen(":443/", "/", 1);
        assert_eq!(lines.next(), Some(expected_url.as_str()), "{}", v["id"]);
        assert_eq!(lines.map(str::to_owned).collect::<Vec<_>>(), headers, "{}", v["id"]);
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} vectors were checked");
}

#[test]
fn refuses_bad_input_with_a_message() {
    let env = [
        ("S3_ACCESS_KEY_ID", "AKID"),
        ("S3_SECRET_ACCESS_KEY", "secret"),
        ("S3_BUCKET", "b"),
        ("S3_REGION", "us-east-1"),
    ];
    type Env<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Env<'_>, &[&str], &str)] = &[
        (&env, &["GET"], "missing KEY"),
        (&env, &["BREW", "k"], "METHOD must be"),
        (&env, &["--expires", "604801", "GET", "k"], "604800"),
        (&env, &["--expires", "soon", "GET", "k"], "--expires"),
        (&env, &["--header", "X-Bad", "GET", "k"], "NAME:VALUE"),
        (&env, &["--at", "yesterday", "GET", "k"], "20130524T000000Z"),
        (&env, &["--bogus", "GET", "k"], "unknown option"),
        (&env, &["GET", ""], "empty"),
        (&env[1..], &["GET", "k"], "S3_ACCESS_KEY_ID"),
        (&env[..3], &["GET", "k"], "S3_REGION"),
    ];
    for (env, args, message) in cases {
        let out = run(env, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
        assert!(stderr.contains(message), "{args:?}: stderr {stderr:?} should mention {message:?}");
    }
}

#[test]
fn prints_the_url_then_headers() {
    let env = [
        ("S3_ACCESS_KEY_ID", "AKID"),
        ("S3_SECRET_ACCESS_KEY", "secret"),
        ("S3_BUCKET", "my-app-uploads"),
        ("S3_REGION", "auto"),
        ("S3_ENDPOINT", "https://acct.r2.cloudflarestorage.com"),
    ];
    let out = run(
        &env,
        &[
            "--content-type",
            "image/png",
            "--content-length",
            "1024",
            "--query",
            "x-id=PutObject",
            "PUT",
            "--",
            "--odd key",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with(
            "https://acct.r2.cloudflarestorage.com/my-app-uploads/--odd%20key?x-id=PutObject&X-Amz-Algorithm="
        ),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"));
    assert_eq!(&lines[1..], ["Content-Type: image/png", "Content-Length: 1024"]);
}
