//! Shared helpers of the integration tests.

#![allow(dead_code)]

#[cfg(feature = "s3")]
pub mod credential_servers;
#[cfg(feature = "s3")]
pub mod multipart;
#[cfg(feature = "s3")]
pub mod proxy;
#[cfg(feature = "s3")]
pub mod raw_http;
pub mod rng;
#[cfg(feature = "testing")]
pub mod servers;
pub mod vectors;
#[cfg(feature = "testing")]
pub mod webdriver;
