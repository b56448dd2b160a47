//! An S3 server embedded in the process, for the examples and the tests: s3s-fs (a real S3
//! implementation over a local directory, which verifies SigV4 signatures) on 127.0.0.1, on a port
//! of the system's choosing. Nothing to install, no cloud account.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;

/// A running embedded server. Dropping it stops the server and removes its directory.
pub struct EmbeddedS3 {
    pub endpoint: String,
    pub addr: SocketAddr,
    pub region: &'static str,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    root: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl EmbeddedS3 {
    /// Starts a server with one bucket, `bucket`, stored under a fresh temporary directory.
    pub async fn start(bucket: &str) -> std::io::Result<EmbeddedS3> {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("stowage-embedded-s3-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join(bucket))?;
        let access_key = "AKIAEMBEDDEDEXAMPLE".to_owned();
        let secret_key = format!("embedded/{}/secret", std::process::id());

        let fs = s3s_fs::FileSystem::new(&root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(access_key.clone(), secret_key.clone()));
        let service = builder.build();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
        Ok(EmbeddedS3 {
            endpoint: format!("http://{addr}"),
            addr,
            region: "us-east-1",
            bucket: bucket.to_owned(),
            access_key,
            secret_key,
            root,
            task,
        })
    }

    /// Where the objects are stored on disk.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
