use std::time::Duration;
fn main() {
    let signer = stowage::sigv4::Signer::new(stowage::Credentials::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "us-east-1", "s3").unwrap();
    let bucket = stowage::sigv4::BucketAddress::aws("us-east-1", "my-app-uploads").unwrap();
    let at = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    let mut n = 0usize;
    let t = std::time::Instant::now();
    let iters: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(3_000_000);
    for _ in 0..iters {
        let r = bucket.object(stowage::sigv4::Method::Put, std::hint::black_box("uploads/1700000000000-profile picture (1).png")).unwrap();
        n += signer.presign(&r, Duration::from_secs(300), at).unwrap().url().len();
    }
    eprintln!("{:?} per op {n}", t.elapsed() / iters);
}
