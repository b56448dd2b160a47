//! The upload endpoints as services run them, on s3s-fs and Garage: several instances over one
//! bucket and one secret, an instance restarted mid-upload, the person behind each upload (everyone
//! else refused exactly as for an upload that does not exist), tickets tampered with in the bucket,
//! identity hooks that fail, the cap on uploads in progress, a completion hook that fails and is
//! retried, and Uppy configured as its documentation shows (no size). Then the demo itself: two
//! processes sharing `S3_*` and `UPLOAD_SECRET`, and its identity cookie forged.

#![cfg(all(feature = "axum", feature = "sniff", feature = "testing"))]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use stowage::axum::{HookFailure, IdentityRefusal, MemoryTickets, Secret, StoredUpload, Uploader, Uploads};
use stowage::constraints::UploadPolicy;
use stowage::multipart::{MultipartUpload, UploadId};
use stowage::{Body, GetOptions, ListOptions, PutOptions, S3Storage, Storage};
use support::api::{self, Api, As, put, refused, urlencoding};
use support::servers::Server;
use support::{Tally, on_each_server};

const MIB: usize = 1024 * 1024;
/// The secret the instances of the service share.
const SECRET: &str = "the secret every instance of this service shares";
/// A real 1×1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

fn png_of(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8 ^ seed).collect();
    bytes[..PNG.len()].copy_from_slice(PNG);
    bytes
}

fn policy(max_size: u64) -> UploadPolicy {
    UploadPolicy::new("uploads/")
        .with_staging_prefix("staging/")
        .allow_type("image/*")
        .expect("pattern")
        .with_max_size(max_size)
        .with_part_size(5 << 20)
}

/// The endpoints as one instance of the service builds them: the shared secret, and the person
/// named by `x-test-user`.
fn instance(storage: &Arc<dyn Storage>) -> Uploads {
    Uploads::new(Arc::clone(storage), policy(64 << 20))
        .with_secret(Secret::new(SECRET).expect("a long secret"))
        .with_identity(api::from_header)
}

async fn stored(direct: &S3Storage, key: &str) -> Option<Vec<u8>> {
    let object = direct.get_object(key, &GetOptions::new()).await.expect("get")?;
    Some(object.bytes().await.expect("body").to_vec())
}

async fn tickets_of(direct: &S3Storage, owner: &str) -> Vec<String> {
    let prefix = format!("staging/.tickets/{owner}/");
    let listed = direct.list_objects(&prefix, &ListOptions::new()).all().await.expect("list tickets");
    listed.into_iter().map(|o| o.key).collect()
}

/// A multipart upload as the JSON endpoints answered its creation.
struct Multipart {
    key: String,
    id: String,
}

impl Multipart {
    async fn create(who: As<'_>, bytes: &[u8], name: &str) -> Multipart {
        let claim = json!({ "filename": name, "content_type": "image/png", "size": bytes.len() });
        let (status, ticket) = who.post("/uploads/multipart", claim).await;
        assert_eq!(status, 201, "{ticket}");
        Multipart {
            key: ticket["key"].as_str().expect("key").into(),
            id: ticket["upload_id"].as_str().expect("id").into(),
        }
    }

    fn query(&self) -> String {
        format!("key={}&upload_id={}", urlencoding(&self.key), urlencoding(&self.id))
    }

    async fn sign(&self, who: As<'_>, numbers: &[u32]) -> Vec<Value> {
        let body = json!({ "key": self.key, "upload_id": self.id, "part_numbers": numbers });
        let (status, signed) = who.post("/uploads/multipart/parts", body).await;
        assert_eq!(status, 200, "{signed}");
        signed["parts"].as_array().expect("parts").clone()
    }

    /// The part numbers stored so far, as `who` lists them.
    async fn listed(&self, who: As<'_>) -> Vec<u64> {
        let (status, listed) = who.get(&format!("/uploads/multipart/parts?{}", self.query())).await;
        assert_eq!(status, 200, "{listed}");
        listed["parts"].as_array().expect("parts").iter().filter_map(|p| p["part_number"].as_u64()).collect()
    }

    async fn complete(&self, who: As<'_>, etags: &[(u32, String)]) -> (u16, Value) {
        let parts: Vec<Value> = etags.iter().map(|(n, e)| json!({ "part_number": n, "etag": e })).collect();
        who.post("/uploads/complete", json!({ "key": self.key, "upload_id": self.id, "parts": parts })).await
    }
}

/// Sends each signed part its 5 MiB slice of `bytes`; answers the ETags.
async fn send_parts(signed: &[Value], bytes: &[u8]) -> Vec<(u32, String)> {
    let mut etags = Vec::new();
    for part in signed {
        let n = part["part_number"].as_u64().expect("number") as usize;
        let range = (n - 1) * 5 * MIB..(n * 5 * MIB).min(bytes.len());
        let sent = put(part, &bytes[range]).await;
        assert_eq!(sent.status / 100, 2, "part {n}: {}", sent.text());
        etags.push((n as u32, sent.header("etag").expect("an ETag").to_owned()));
    }
    etags
}

/// A single upload: created by `who`, its bytes sent. Answers `(upload key, final key)`.
async fn single(who: As<'_>, name: &str) -> (String, String) {
    let (status, ticket) =
        who.post("/uploads", json!({ "filename": name, "content_type": "image/png", "size": PNG.len() })).await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(put(&ticket, PNG).await.status / 100, 2);
    (ticket["key"].as_str().expect("key").into(), ticket["final_key"].as_str().expect("final key").into())
}

async fn two_instances(storage: &Arc<dyn Storage>, direct: &S3Storage, tally: &mut Tally) {
    let a = Api::serve(instance(storage).router()).await;
    let b = Api::serve(instance(storage).router()).await;
    let bytes = png_of(12 * MIB + 77, 1);
    let upload = Multipart::create(a.by("alice"), &bytes, "shared.png").await;
    assert!(upload.key.starts_with("uploads/alice/"), "the owner's prefix: {}", upload.key);
    let signed = upload.sign(b.by("alice"), &[1, 2, 3]).await;
    let etags = send_parts(&signed, &bytes).await;
    assert_eq!(upload.listed(b.by("alice")).await, [1, 2, 3]);
    let (status, done) = upload.complete(a.by("alice"), &etags).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(stored(direct, &upload.key).await.map(Sha256::digest), Some(Sha256::digest(&bytes)));
    refused("the completion replayed on the other instance", &upload.complete(b.by("alice"), &etags).await, 404);

    let (key, final_key) = single(b.by("alice"), "one.png").await;
    let (status, done) = a.by("alice").post("/uploads/complete", json!({ "key": key })).await;
    assert_eq!((status, done["key"].as_str()), (200, Some(final_key.as_str())), "{done}");
    assert_eq!(stored(direct, &final_key).await.as_deref(), Some(PNG));
    assert!(tickets_of(direct, "alice").await.is_empty(), "finished uploads leave no ticket");
    tally.pass("two instances, one bucket: created on one, signed on the other, completed on the first");
}

async fn restart(storage: &Arc<dyn Storage>, direct: &S3Storage, tally: &mut Tally) {
    let bytes = png_of(13 * MIB + 5, 2);
    let first = Api::serve(instance(storage).router()).await;
    let upload = Multipart::create(first.by("bea"), &bytes, "resumed.png").await;
    let signed = upload.sign(first.by("bea"), &[1, 2, 3]).await;
    let mut etags = send_parts(&signed[..2], &bytes).await;
    first.stop().await;

    // A new instance (a deploy): it finds the upload, and only the missing part is sent.
    let second = Api::serve(instance(storage).router()).await;
    let listed = upload.listed(second.by("bea")).await;
    let missing: Vec<u32> = (1..=3).filter(|n| !listed.contains(&u64::from(*n))).collect();
    assert_eq!(missing, [3], "parts 1 and 2 survived the restart: {listed:?}");
    let signed = upload.sign(second.by("bea"), &missing).await;
    etags.extend(send_parts(&signed, &bytes).await);
    let (status, done) = upload.complete(second.by("bea"), &etags).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(stored(direct, &upload.key).await.map(Sha256::digest), Some(Sha256::digest(&bytes)));

    // The control: tickets in one process's memory do not survive it.
    let memory = Api::serve(instance(storage).with_tickets(MemoryTickets::new()).router()).await;
    let lost = Multipart::create(memory.by("bea"), &bytes, "lost.png").await;
    memory.stop().await;
    let again = Api::serve(instance(storage).with_tickets(MemoryTickets::new()).router()).await;
    refused(
        "memory tickets after a restart",
        &again.by("bea").get(&format!("/uploads/multipart/parts?{}", lost.query())).await,
        404,
    );
    let id = UploadId::new(lost.id.clone()).expect("upload id");
    direct.abort_multipart_upload(&MultipartUpload::new(lost.key.clone(), id)).await.expect("abort");
    tally.pass("an instance restarted mid-upload: resumed on a new one, only the missing part sent, bytes exact");
}

async fn other_people(storage: &Arc<dyn Storage>, direct: &S3Storage, tally: &mut Tally) {
    let api = Api::serve(instance(storage).router()).await;
    let (alice, bob) = (api.by("cleo"), api.by("dan"));
    let bytes = png_of(11 * MIB, 3);
    let upload = Multipart::create(alice, &bytes, "mine.png").await;
    let signed = upload.sign(alice, &[1, 2, 3]).await;
    let etags = send_parts(&signed, &bytes).await;
    let (single_key, single_final) = single(alice, "mine too.png").await;
    let (status, uppy) =
        alice.post("/s3/multipart", json!({ "filename": "via uppy.png", "type": "image/png", "metadata": {} })).await;
    assert_eq!(status, 200, "{uppy}");
    let (uppy_key, uppy_id) =
        (uppy["key"].as_str().expect("key").to_owned(), uppy["uploadId"].as_str().expect("id").to_owned());

    // Every route about alice's uploads, as bob: word for word the answer to no upload at all.
    let parts: Vec<Value> = etags.iter().map(|(n, e)| json!({ "part_number": n, "etag": e })).collect();
    let theirs =
        Routes { key: &upload.key, id: &upload.id, single: &single_key, uppy_key: &uppy_key, uppy_id: &uppy_id };
    let nothing = Routes {
        key: "uploads/dan/nothing/x.png",
        id: "no-such-upload",
        single: "staging/dan/nothing/y.png",
        uppy_key: "uploads/dan/nothing/z.png",
        uppy_id: "no-such-upload",
    };
    let (refusals, unknown) = (theirs.call(bob, &parts).await, nothing.call(bob, &parts).await);
    for ((route, answer), (_, none)) in refusals.iter().zip(&unknown) {
        refused(route, answer, 404);
        assert_eq!(answer, none, "{route}: an upload's existence does not leak");
    }
    // Nobody, and somebody whose id would bend a path: refused before anything happens.
    refused(
        "no identity",
        &api.anyone().post("/uploads", json!({ "filename": "a.png", "content_type": "image/png", "size": 10 })).await,
        401,
    );
    refused(
        "an owner id with a path",
        &api.by("../cleo")
            .post("/uploads", json!({ "filename": "a.png", "content_type": "image/png", "size": 10 }))
            .await,
        403,
    );
    refused(
        "an owner id with a slash",
        &api.by("cleo/x").get(&format!("/uploads/multipart/parts?{}", upload.query())).await,
        403,
    );

    // Alice's uploads are intact.
    assert_eq!(upload.listed(alice).await, [1, 2, 3]);
    let (status, done) = upload.complete(alice, &etags).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(stored(direct, &upload.key).await.map(Sha256::digest), Some(Sha256::digest(&bytes)));
    let (status, done) = alice.post("/uploads/complete", json!({ "key": single_key })).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(stored(direct, &single_final).await.as_deref(), Some(PNG));
    let (status, _) = alice.delete(&format!("/s3/multipart/{uppy_id}?key={}", urlencoding(&uppy_key))).await;
    assert_eq!(status, 200);
    // A single upload its owner gives up on: the staged bytes and the ticket go.
    let (given_up, _) = single(alice, "given up.png").await;
    assert_eq!(alice.delete(&format!("/uploads?key={}", urlencoding(&given_up))).await.0, 204);
    assert!(stored(direct, &given_up).await.is_none(), "the staged bytes are deleted");
    refused("completing a cancelled upload", &alice.post("/uploads/complete", json!({ "key": given_up })).await, 404);
    assert!(tickets_of(direct, "cleo").await.is_empty() && tickets_of(direct, "dan").await.is_empty());
    tally.pass("another person refused on every route (JSON and Uppy) exactly as for no upload; the owner's intact");
}

/// The uploads one person's calls are about.
struct Routes<'a> {
    key: &'a str,
    id: &'a str,
    single: &'a str,
    uppy_key: &'a str,
    uppy_id: &'a str,
}

impl Routes<'_> {
    /// Every route about these uploads, JSON and Uppy's, called as `who`.
    async fn call(&self, who: As<'_>, parts: &[Value]) -> Vec<(&'static str, (u16, Value))> {
        let (key, id, uid) = (self.key, self.id, self.uppy_id);
        let q = format!("key={}&upload_id={}", urlencoding(key), urlencoding(id));
        let uq = format!("key={}", urlencoding(self.uppy_key));
        let uppy_parts: Vec<Value> =
            parts.iter().map(|p| json!({ "PartNumber": p["part_number"], "ETag": p["etag"] })).collect();
        vec![
            (
                "sign parts",
                who.post("/uploads/multipart/parts", json!({ "key": key, "upload_id": id, "part_numbers": [1] })).await,
            ),
            ("list parts", who.get(&format!("/uploads/multipart/parts?{q}")).await),
            ("complete", who.post("/uploads/complete", json!({ "key": key, "upload_id": id, "parts": parts })).await),
            ("complete a single upload", who.post("/uploads/complete", json!({ "key": self.single })).await),
            ("cancel", who.delete(&format!("/uploads/multipart?{q}")).await),
            ("cancel a single upload", who.delete(&format!("/uploads?key={}", urlencoding(self.single))).await),
            ("Uppy: sign a part", who.get(&format!("/s3/multipart/{uid}/1?{uq}")).await),
            ("Uppy: sign a batch", who.get(&format!("/s3/multipart/{uid}/batch?{uq}&partNumbers=1,2")).await),
            ("Uppy: list parts", who.get(&format!("/s3/multipart/{uid}?{uq}")).await),
            (
                "Uppy: complete",
                who.post(&format!("/s3/multipart/{uid}/complete?{uq}"), json!({ "parts": uppy_parts })).await,
            ),
            ("Uppy: abort", who.delete(&format!("/s3/multipart/{uid}?{uq}")).await),
        ]
    }
}

async fn tampered_tickets(storage: &Arc<dyn Storage>, direct: &S3Storage, tally: &mut Tally) {
    let api = Api::serve(instance(storage).router()).await;
    let (key, final_key) = single(api.by("eve"), "tampered.png").await;
    let kept = tickets_of(direct, "eve").await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    let original = stored(direct, &kept[0]).await.expect("the ticket");
    let text = String::from_utf8(original.clone()).expect("a ticket is text");
    assert!(!text.contains("X-Amz-Signature") && !text.contains(SECRET), "no URL, no secret in a ticket");
    let (_, json) = text.split_once('\n').expect("signature, line break, JSON");
    let write = |bytes: Vec<u8>, at: String| async move {
        direct.put_object(&at, Body::from(bytes), &PutOptions::new()).await.expect("write a ticket by hand");
    };
    let complete = || async { api.by("eve").post("/uploads/complete", json!({ "key": key })).await };

    let mut longer: Value = serde_json::from_str(json).expect("ticket JSON");
    longer["expires_at"] = json!("2999-01-01T00:00:00Z");
    let other = Secret::new("another service's secret, just as long as ours").expect("secret");
    let signature = text.split_once('\n').map(|(s, _)| s.to_owned()).unwrap_or_default();
    let variants: [(&str, Vec<u8>); 5] = [
        ("altered (a later expiry, the old signature)", format!("{signature}\n{longer}").into_bytes()),
        ("signed with another secret", format!("{}\n{json}", other.sign(json.as_bytes())).into_bytes()),
        ("truncated", original[..original.len() / 2].to_vec()),
        ("a forged signature", format!("{}\n{json}", "0".repeat(64)).into_bytes()),
        ("empty", Vec::new()),
    ];
    for (what, bytes) in variants {
        write(bytes, kept[0].clone()).await;
        refused(what, &complete().await, 404);
        assert!(stored(direct, &final_key).await.is_none(), "{what}: nothing promoted");
        assert!(stored(direct, &key).await.is_some(), "{what}: the staged upload untouched");
    }
    // Eve's ticket copied under another owner's name: its owner is inside the signed JSON.
    let moved = kept[0].replace("/eve/", "/fay/");
    write(original.clone(), moved.clone()).await;
    refused(
        "a ticket moved to another owner",
        &api.by("fay").post("/uploads/complete", json!({ "key": key })).await,
        404,
    );
    direct.delete_object(&moved).await.expect("clean");
    // The real ticket back: the upload completes.
    write(original, kept[0].clone()).await;
    let (status, done) = complete().await;
    assert_eq!(status, 200, "{done}");

    // Deleted by hand: refused, nothing promoted.
    let (key, final_key) = single(api.by("eve"), "orphan.png").await;
    for ticket in tickets_of(direct, "eve").await {
        direct.delete_object(&ticket).await.expect("delete the ticket");
    }
    refused("a ticket deleted by hand", &api.by("eve").post("/uploads/complete", json!({ "key": key })).await, 404);
    assert!(stored(direct, &final_key).await.is_none());
    direct.delete_object(&key).await.expect("clean");

    // Past its lifetime.
    let short = Api::serve(instance(storage).with_ticket_lifetime(Duration::from_secs(1)).router()).await;
    let (key, final_key) = single(short.by("eve"), "late.png").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    refused("an expired ticket", &short.by("eve").post("/uploads/complete", json!({ "key": key })).await, 404);
    assert!(stored(direct, &final_key).await.is_none());
    direct.delete_object(&key).await.expect("clean");
    for ticket in tickets_of(direct, "eve").await {
        direct.delete_object(&ticket).await.expect("clean");
    }
    tally.pass(
        "tickets altered, forged, from another secret, truncated, moved, deleted or expired: refused, nothing changed",
    );
}

async fn identity_failures(storage: &Arc<dyn Storage>, direct: &S3Storage, tally: &mut Tally) {
    let claim = json!({ "filename": "a.png", "content_type": "image/png", "size": 10 });
    let slow = Api::serve(
        instance(storage)
            .with_identity(|_parts: axum::http::request::Parts| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Uploader::new("slow").map_err(|_| IdentityRefusal::forbidden("No."))
            })
            .with_identity_timeout(Duration::from_millis(200))
            .router(),
    )
    .await;
    let started = Instant::now();
    refused("an identity hook that times out", &slow.anyone().post("/uploads", claim.clone()).await, 401);
    assert!(started.elapsed() < Duration::from_secs(5), "answered at the timeout");

    let broken = Api::serve(
        instance(storage)
            .with_identity(|parts: axum::http::request::Parts| async move {
                assert!(parts.headers.contains_key("x-never"), "the session store is down");
                Uploader::new("never").map_err(|_| IdentityRefusal::forbidden("No."))
            })
            .router(),
    )
    .await;
    refused("an identity hook that panics", &broken.anyone().post("/uploads", claim.clone()).await, 401);
    let refusing = Api::serve(
        instance(storage)
            .with_identity(|_parts: axum::http::request::Parts| async {
                Err::<Uploader, _>(IdentityRefusal::forbidden("This account may not upload files."))
            })
            .router(),
    )
    .await;
    let sentence =
        refused("an identity hook that refuses", &refusing.anyone().post("/uploads/multipart", claim).await, 403);
    assert_eq!(sentence, "This account may not upload files.");
    let listed = direct.list_objects("staging/.tickets/", &ListOptions::new()).all().await.expect("list");
    assert!(listed.is_empty(), "nothing was written: {listed:?}");
    tally.pass("identity hooks that time out, panic or refuse: 401/403 with a sentence, nothing written");
}

async fn cap(storage: &Arc<dyn Storage>, direct: &S3Storage, tally: &mut Tally) {
    let api = Api::serve(instance(storage).with_max_in_progress(2).router()).await;
    let (gus, hal) = (api.by("gus"), api.by("hal"));
    let (first, _) = single(gus, "one.png").await;
    let bytes = png_of(11 * MIB, 4);
    let upload = Multipart::create(gus, &bytes, "two.png").await;
    let claim = json!({ "filename": "three.png", "content_type": "image/png", "size": PNG.len() });
    let sentence = refused("a third upload", &gus.post("/uploads", claim.clone()).await, 429);
    assert!(sentence.contains("2 uploads in progress"), "{sentence}");
    refused(
        "a third, as multipart",
        &gus.post(
            "/uploads/multipart",
            json!({ "filename": "x.png", "content_type": "image/png", "size": bytes.len() }),
        )
        .await,
        429,
    );
    refused(
        "a third, through Uppy",
        &gus.post("/s3/multipart", json!({ "filename": "x.png", "type": "image/png", "metadata": {} })).await,
        429,
    );
    assert_eq!(tickets_of(direct, "gus").await.len(), 2, "refusals write nothing");
    // Someone else is not held back; finishing or cancelling frees a place.
    let (hals, _) = single(hal, "hal.png").await;
    assert_eq!(gus.post("/uploads/complete", json!({ "key": first })).await.0, 200);
    let (third, _) = single(gus, "three.png").await;
    refused("at the cap again", &gus.post("/uploads", claim).await, 429);
    assert_eq!(gus.delete(&format!("/uploads/multipart?{}", upload.query())).await.0, 204);
    let (fourth, _) = single(gus, "four.png").await;
    for key in [third, fourth] {
        assert_eq!(gus.post("/uploads/complete", json!({ "key": key })).await.0, 200);
    }
    assert_eq!(hal.post("/uploads/complete", json!({ "key": hals })).await.0, 200);
    tally.pass("the cap on uploads in progress: 429 with a sentence, per person, freed by finishing or cancelling");
}

async fn completion_hook(storage: &Arc<dyn Storage>, direct: &S3Storage, tally: &mut Tally) {
    let seen: Arc<Mutex<Vec<StoredUpload>>> = Arc::default();
    let failures = Arc::new(AtomicUsize::new(0));
    let hooked = |storage: &Arc<dyn Storage>| {
        let (seen, failures) = (Arc::clone(&seen), Arc::clone(&failures));
        instance(storage).with_on_complete(move |upload: StoredUpload| {
            let (seen, failures) = (Arc::clone(&seen), Arc::clone(&failures));
            async move {
                seen.lock().expect("lock").push(upload.clone());
                if failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                    return Err(HookFailure::new("the database is down"));
                }
                Ok(json!({ "file_id": format!("file-{}", upload.size), "key": "the hook cannot change this" }))
            }
        })
    };
    let a = Api::serve(hooked(storage).router()).await;
    let b = Api::serve(hooked(storage).router()).await;

    failures.store(1, Ordering::SeqCst);
    let (key, final_key) = single(a.by("ivy"), "recorded.png").await;
    let sentence = refused("the hook failed", &a.by("ivy").post("/uploads/complete", json!({ "key": key })).await, 503);
    assert!(sentence.contains("stored"), "{sentence}");
    assert_eq!(stored(direct, &final_key).await.as_deref(), Some(PNG), "the file is not lost");
    let (status, done) = b.by("ivy").post("/uploads/complete", json!({ "key": key })).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        (done["key"].as_str(), done["file_id"].as_str()),
        (Some(final_key.as_str()), Some(format!("file-{}", PNG.len()).as_str()))
    );
    refused(
        "a replay after the hook succeeded",
        &a.by("ivy").post("/uploads/complete", json!({ "key": key })).await,
        404,
    );
    {
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.len(), 2, "the hook ran twice: failed, then retried");
        assert_eq!(seen[0], seen[1], "the same upload both times");
        assert_eq!(
            (seen[0].key.as_str(), seen[0].owner.as_str(), seen[0].size),
            (final_key.as_str(), "ivy", PNG.len() as u64)
        );
        assert_eq!(seen[0].filename, "recorded.png");
        assert!(seen[0].etag.is_some());
    }

    failures.store(2, Ordering::SeqCst);
    let bytes = png_of(11 * MIB, 5);
    let upload = Multipart::create(a.by("ivy"), &bytes, "large recorded.png").await;
    let etags = send_parts(&upload.sign(a.by("ivy"), &[1, 2, 3]).await, &bytes).await;
    refused("the hook failed (multipart)", &upload.complete(a.by("ivy"), &etags).await, 503);
    refused("failed again", &upload.complete(b.by("ivy"), &etags).await, 503);
    assert_eq!(stored(direct, &upload.key).await.map(Sha256::digest), Some(Sha256::digest(&bytes)));
    let (status, done) = upload.complete(a.by("ivy"), &etags).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["file_id"], format!("file-{}", bytes.len()));
    refused("a replay on the other instance", &upload.complete(b.by("ivy"), &etags).await, 404);
    assert_eq!(seen.lock().expect("lock").len(), 5);
    tally.pass("a failing completion hook: 503, the file kept; retried on any instance, recorded once more, merged");
}

async fn uppy_without_size(storage: &Arc<dyn Storage>, direct: &S3Storage, tally: &mut Tally) {
    // Uppy as its documentation configures it: no size anywhere, its own 5 MiB parts.
    let small = Api::serve(
        Uploads::new(Arc::clone(storage), policy(12 << 20)).with_secret(Secret::new(SECRET).expect("secret")).router(),
    )
    .await;
    let uppy = small.anyone();
    let create = || async {
        let (status, created) = uppy
            .post("/s3/multipart", json!({ "filename": "no size.png", "type": "image/png", "metadata": { "name": "no size.png", "type": "image/png" } }))
            .await;
        assert_eq!(status, 200, "{created}");
        (created["key"].as_str().expect("key").to_owned(), created["uploadId"].as_str().expect("id").to_owned())
    };
    let send = |key: String, id: String, sizes: Vec<usize>, bytes: Vec<u8>| async move {
        let form_key = urlencoding(&key);
        let mut parts = Vec::new();
        let mut at = 0;
        for (i, size) in sizes.into_iter().enumerate() {
            let (status, signed) = uppy.get(&format!("/s3/multipart/{id}/{}?key={form_key}", i + 1)).await;
            assert_eq!(status, 200, "{signed}");
            let sent =
                support::raw_http::send("PUT", signed["url"].as_str().expect("url"), &[], &bytes[at..at + size]).await;
            assert_eq!(sent.status / 100, 2, "{}", sent.text());
            parts.push(json!({ "PartNumber": i + 1, "ETag": sent.header("etag").expect("etag").trim_matches('"') }));
            at += size;
        }
        uppy.post(&format!("/s3/multipart/{id}/complete?key={form_key}"), json!({ "parts": parts })).await
    };

    let bytes = png_of(11 * MIB + 3, 6);
    let (key, id) = create().await;
    let (status, done) = send(key.clone(), id, vec![5 * MIB, 5 * MIB, MIB + 3], bytes.clone()).await;
    assert_eq!((status, done["location"].as_str()), (200, Some(key.as_str())), "{done}");
    assert_eq!(stored(direct, &key).await.map(Sha256::digest), Some(Sha256::digest(&bytes)));

    // A part that could not start within the limit is not signed.
    let (key, id) = create().await;
    let (status, _) = uppy.get(&format!("/s3/multipart/{id}/4?key={}", urlencoding(&key))).await;
    assert_eq!(status, 400, "part 4 of a 12 MiB limit at 5 MiB a part");
    // More than the limit in total: refused at completion, nothing kept.
    let over = png_of(15 * MIB, 7);
    let answer = send(key.clone(), id.clone(), vec![5 * MIB; 3], over).await;
    refused("15 MiB where 12 are allowed", &answer, 413);
    assert!(stored(direct, &key).await.is_none());
    if let Ok(open) = direct.list_multipart_uploads("uploads/").all().await {
        assert!(open.iter().all(|u| u.upload.upload_id.as_str() != id), "the refused upload is aborted");
    }
    // A middle part under the smallest part size: refused at completion, nothing kept.
    let (key, _) = {
        let (key, id) = create().await;
        let answer = send(key.clone(), id.clone(), vec![5 * MIB, MIB, 5 * MIB], png_of(11 * MIB, 8)).await;
        assert!((400..500).contains(&answer.0), "a 1 MiB middle part: {answer:?}");
        (key, id)
    };
    assert!(stored(direct, &key).await.is_none());
    tally.pass("Uppy without a size: open parts signed within the limit, checked at completion (total, part sizes)");
}

async fn narrowed(storage: &Arc<dyn Storage>, direct: &S3Storage, tally: &mut Tally) {
    // The hook narrows the policy for one person: their own prefix, 1 KiB, PNG only.
    let api = Api::serve(
        instance(storage)
            .with_identity(|_parts: axum::http::request::Parts| async {
                let refused = |_| IdentityRefusal::forbidden("No.");
                Uploader::new("kid")
                    .map_err(refused)?
                    .with_key_prefix("kids/kid/")
                    .map_err(refused)?
                    .with_max_size(1024)
                    .with_types(["image/png"])
                    .map_err(|_| IdentityRefusal::forbidden("No."))
            })
            .router(),
    )
    .await;
    let kid = api.anyone();
    let sentence = refused(
        "over the person's limit",
        &kid.post("/uploads", json!({ "filename": "a.png", "content_type": "image/png", "size": 2048 })).await,
        413,
    );
    assert!(sentence.contains("1.0 KiB"), "the person's limit, in words: {sentence}");
    refused(
        "a type the router allows but the person may not",
        &kid.post("/uploads", json!({ "filename": "a.jpg", "content_type": "image/jpeg", "size": 100 })).await,
        415,
    );
    let (key, final_key) = single(kid, "mine.png").await;
    assert!(key.starts_with("staging/kids/kid/") && final_key.starts_with("uploads/kids/kid/"), "{key} {final_key}");
    assert_eq!(kid.post("/uploads/complete", json!({ "key": key })).await.0, 200);
    assert_eq!(stored(direct, &final_key).await.as_deref(), Some(PNG));
    assert_eq!(tickets_of(direct, "kid").await.len(), 0);
    tally.pass("an uploader narrows the policy: own prefix, smaller limit, fewer types");
}

async fn suite(server: &Server) -> Tally {
    let direct = server.storage().await;
    let storage: Arc<dyn Storage> = Arc::new(server.storage().await);
    let mut tally = Tally::default();
    two_instances(&storage, &direct, &mut tally).await;
    restart(&storage, &direct, &mut tally).await;
    other_people(&storage, &direct, &mut tally).await;
    tampered_tickets(&storage, &direct, &mut tally).await;
    identity_failures(&storage, &direct, &mut tally).await;
    cap(&storage, &direct, &mut tally).await;
    completion_hook(&storage, &direct, &mut tally).await;
    uppy_without_size(&storage, &direct, &mut tally).await;
    narrowed(&storage, &direct, &mut tally).await;
    tally.finish("deploying", server.name)
}

on_each_server!(suite, |server: &Server, tally: Tally| assert_eq!(tally.cases, 9, "{}", server.name));

/// One process of the upload demo, on a bucket of `server`, with `secret` (none: unset).
struct Demo {
    child: std::process::Child,
    origin: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    async fn start(server: &Server, secret: &str) -> Demo {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let child = std::process::Command::new(support::example("upload_server"))
            .env("S3_BUCKET", &server.bucket)
            .env("S3_REGION", &server.region)
            .env("S3_ENDPOINT", &server.endpoint)
            .env("S3_ACCESS_KEY_ID", &server.access_key)
            .env("S3_SECRET_ACCESS_KEY", &server.secret)
            .env("UPLOAD_ADDR", format!("127.0.0.1:{port}"))
            .env("UPLOAD_PART_SIZE", (5 * MIB).to_string())
            .env("UPLOAD_SECRET", secret)
            // The files here are made-up PNGs checked byte for byte: images are not cleaned.
            .env("UPLOAD_IMAGES", "off")
            .env_remove("S3_SESSION_TOKEN")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start the upload demo");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "the upload demo did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Demo { child, origin: format!("http://127.0.0.1:{port}") }
    }

    /// The identity cookie the page gives a new browser (`name=value`).
    async fn visit(&self, cookie: Option<&str>) -> Option<String> {
        let mut request = reqwest::Client::new().get(&self.origin);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.expect("the page");
        assert_eq!(response.status(), 200);
        let set = response.headers().get("set-cookie")?.to_str().ok()?.to_owned();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
        set.split(';').next().map(str::to_owned)
    }

    async fn call(&self, cookie: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let mut request = http.request(method, format!("{}{path}", self.origin)).header("cookie", cookie);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.expect("the demo answers");
        let status = response.status().as_u16();
        let location = response.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, location.map_or(body, |l| json!({ "location": l })))
    }
}

/// The demo: two processes sharing `S3_*` and `UPLOAD_SECRET` serve one person's upload together;
/// each person sees and downloads only their own files; a forged, truncated or foreign cookie is
/// refused everywhere, and the page gives a new identity for it.
#[tokio::test(flavor = "multi_thread")]
async fn demo_instances_share_uploads_and_keep_people_apart() {
    use reqwest::Method;
    let server = support::servers::s3s().await;
    let a = Demo::start(&server, SECRET).await;
    let b = Demo::start(&server, SECRET).await;
    let elsewhere = Demo::start(&server, "the secret of some other deployment, long enough").await;

    let alice = a.visit(None).await.expect("a new browser gets an identity");
    assert!(a.visit(Some(&alice)).await.is_none(), "a known browser keeps its identity");
    let bytes = png_of(11 * MIB, 9);
    let claim = json!({ "filename": "shared photo.png", "content_type": "image/png", "size": bytes.len() });
    let (status, ticket) = a.call(&alice, Method::POST, "/api/uploads/multipart", Some(claim)).await;
    assert_eq!(status, 201, "{ticket}");
    let (key, id) =
        (ticket["key"].as_str().expect("key").to_owned(), ticket["upload_id"].as_str().expect("id").to_owned());
    let body = json!({ "key": key, "upload_id": id, "part_numbers": [1, 2, 3] });
    let (status, signed) = b.call(&alice, Method::POST, "/api/uploads/multipart/parts", Some(body)).await;
    assert_eq!(status, 200, "signed by the other instance: {signed}");
    let etags = send_parts(signed["parts"].as_array().expect("parts"), &bytes).await;
    let parts: Vec<Value> = etags.iter().map(|(n, e)| json!({ "part_number": n, "etag": e })).collect();

    // Bob, a new browser on the other instance: alice's upload and files do not exist for him.
    let bob = b.visit(None).await.expect("an identity");
    let body = json!({ "key": key, "upload_id": id, "part_numbers": [1] });
    refused(
        "bob signing alice's parts",
        &a.call(&bob, Method::POST, "/api/uploads/multipart/parts", Some(body)).await,
        404,
    );
    let body = json!({ "key": key, "upload_id": id, "parts": parts });
    refused(
        "bob completing alice's upload",
        &b.call(&bob, Method::POST, "/api/uploads/complete", Some(body.clone())).await,
        404,
    );

    let (status, done) = a.call(&alice, Method::POST, "/api/uploads/complete", Some(body)).await;
    assert_eq!(status, 200, "{done}");
    let (status, files) = b.call(&alice, Method::GET, "/api/files", None).await;
    assert_eq!(status, 200);
    assert_eq!(files.as_array().map(|f| f.iter().filter(|f| f["key"] == key.as_str()).count()), Some(1), "{files}");
    let path = format!(
        "/api/files/{}",
        key.split('/').map(|s| urlencoding(s).replace('+', "%20")).collect::<Vec<_>>().join("/")
    );
    let (status, link) = b.call(&alice, Method::GET, &path, None).await;
    assert_eq!(status / 100, 3, "a redirect to a presigned GET: {link}");
    let got = support::raw_http::send("GET", link["location"].as_str().expect("location"), &[], b"").await;
    assert_eq!(got.status, 200, "{}", got.text());
    let got = got.body;
    assert_eq!(Sha256::digest(&got), Sha256::digest(&bytes), "the download is the file");
    let (status, files) = a.call(&bob, Method::GET, "/api/files", None).await;
    assert_eq!((status, files), (200, json!([])), "bob sees none of alice's files");
    refused("bob downloading alice's file", &a.call(&bob, Method::GET, &path, None).await, 404);
    let dotted = path.replacen(
        &format!("/{}/", key.split('/').nth(1).unwrap_or_default()),
        &format!("/{}/../", bob.split(['=', '.']).nth(1).unwrap_or_default()),
        1,
    );
    refused("a way out of one's own prefix", &a.call(&bob, Method::GET, &dotted, None).await, 404);

    // Cookies that are not the demo's: refused on every route, and the page issues a new one.
    let (name_id, signature) = alice.split_once('.').expect("id.signature");
    let foreign = elsewhere.visit(None).await.expect("an identity from another deployment");
    let forged = [
        format!("{name_id}.{}", "0".repeat(signature.len())),
        alice[..alice.len() - 9].to_owned(),
        name_id.to_owned(),
        foreign,
        "stowage_demo=../../etc.abc".to_owned(),
    ];
    for cookie in &forged {
        refused("a forged cookie: files", &a.call(cookie, Method::GET, "/api/files", None).await, 401);
        refused("a forged cookie: a download", &a.call(cookie, Method::GET, &path, None).await, 401);
        let claim = json!({ "filename": "x.png", "content_type": "image/png", "size": 10 });
        refused("a forged cookie: an upload", &b.call(cookie, Method::POST, "/api/uploads", Some(claim)).await, 401);
        let body = json!({ "key": key, "upload_id": id, "part_numbers": [1] });
        refused(
            "a forged cookie: signing",
            &b.call(cookie, Method::POST, "/api/uploads/multipart/parts", Some(body)).await,
            401,
        );
        assert!(a.visit(Some(cookie)).await.is_some(), "the page gives a new identity for {cookie}");
    }
}
