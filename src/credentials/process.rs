//! `credential_process`: a command named in a profile that prints credentials as JSON.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::json::{self, Shape};
use super::{Credentials, CredentialsError};

/// The most read of a process's output and error output.
const MAX_OUTPUT: u64 = 64 * 1024;

/// Runs `command` through the shell (`sh -c`, `cmd /C` on Windows), as the AWS CLI does, and reads
/// the credentials it prints. A process still running after `timeout` is killed. Its standard output
/// is never quoted in an error (it holds secrets); its error output is, shortened.
pub(crate) async fn run(provider: &str, command: &str, timeout: Duration) -> Result<Credentials, CredentialsError> {
    let failed = |reason: String| CredentialsError::Process { provider: provider.to_owned(), reason };
    let mut shell = if cfg!(windows) {
        let mut c = tokio::process::Command::new("cmd.exe");
        c.arg("/C");
        c
    } else {
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c");
        c
    };
    shell.arg(command).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let mut child = shell.spawn().map_err(|e| failed(format!("credential_process could not start: {e}")))?;
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(failed("credential_process: its output could not be captured".into()));
    };
    let work = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (read_out, read_err) = futures_util::future::join(
            (&mut stdout).take(MAX_OUTPUT).read_to_end(&mut out),
            (&mut stderr).take(MAX_OUTPUT).read_to_end(&mut err),
        )
        .await;
        read_out.and(read_err)?;
        // Output beyond the limit is not read: the process is not waited for then.
        let status = child.wait().await?;
        Ok::<_, std::io::Error>((status, out, err))
    };
    let (status, out, err) = match tokio::time::timeout(timeout, work).await {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => return Err(failed(format!("credential_process: reading its output failed: {e}"))),
        Err(_) => {
            return Err(failed(format!(
                "credential_process did not finish within {}; it was stopped",
                super::error::seconds(timeout)
            )));
        }
    };
    if !status.success() {
        let shown = String::from_utf8_lossy(&err);
        let said = super::error::excerpt(&shown, 300);
        let code = status.code().map_or_else(|| "was killed by a signal".to_owned(), |c| format!("exited with {c}"));
        return Err(failed(if said.is_empty() {
            format!("credential_process {code}")
        } else {
            format!("credential_process {code}: {said}")
        }));
    }
    let text = String::from_utf8(out).map_err(|_| {
        CredentialsError::bad_response(provider, "credential_process printed something that is not UTF-8")
    })?;
    json::parse(provider, Shape::Process, &text)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn good_bad_and_hanging_processes() {
        let ok = run(
            "p",
            r#"printf '{"Version":1,"AccessKeyId":"AKID","SecretAccessKey":"sec","SessionToken":"tok","Expiration":"2999-01-01T00:00:00Z"}'"#,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert_eq!((ok.access_key_id(), ok.session_token()), ("AKID", Some("tok")));

        let exit = run("p", "echo 'no SSO session: run aws sso login' >&2; exit 3", Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(matches!(exit, CredentialsError::Process { .. }));
        assert!(exit.to_string().contains("exited with 3: no SSO session"), "{exit}");

        let garbage = run("p", "echo '{\"SecretAccessKey\": \"leak\"'", Duration::from_secs(10)).await.unwrap_err();
        assert!(matches!(garbage, CredentialsError::BadResponse { .. }));
        assert!(!garbage.to_string().contains("leak"), "{garbage}");

        let started = std::time::Instant::now();
        let hang = run("p", "sleep 30", Duration::from_millis(300)).await.unwrap_err();
        assert!(hang.to_string().contains("did not finish within 0.3 s"), "{hang}");
        assert!(started.elapsed() < Duration::from_secs(5));

        let missing = run("p", "/nonexistent/credential-helper", Duration::from_secs(10)).await.unwrap_err();
        assert!(matches!(missing, CredentialsError::Process { .. }), "{missing:?}");
    }
}
