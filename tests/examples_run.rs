//! The quick start runs as the README says: on the embedded server with no configuration, and
//! against another server (Garage, region `auto` like R2) by configuration alone.

#![cfg(feature = "s3")]

mod support;

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test path");
    let dir = exe.parent().and_then(|p| p.parent()).expect("target dir").join("examples");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "{} is missing: cargo test builds the examples", path.display());
    path
}

fn quickstart(env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(example("quickstart"));
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
