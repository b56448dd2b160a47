//! Listings: prefixes, key order, `start_after`, every page.

use super::{Checks, Failure, Profile, Report};
use crate::{Body, ListOptions, PutOptions, Storage};

/// Keys under a prefix listed in order with their sizes, nothing outside it; `start_after` resumes
/// after a key; every page is followed (give the storage a small page size to see pages at work).
///
/// # Errors
///
/// The first check that does not hold.
pub async fn listing(storage: &dyn Storage, profile: &Profile) -> Result<Report, Failure> {
    let mut c = Checks::new("listing", profile);
    let prefix = profile.key("list/");
    // Keys with `+` and `%` survive a listing only where the server URL-encodes it.
    let name = |i: usize| {
        if profile.listing_encodes_keys { format!("{prefix}{i} +x%.txt") } else { format!("{prefix}{i} x.txt") }
    };
    if !profile.listing_encodes_keys {
        c.note("listings ignore encoding-type=url: keys with + listed without it");
    }
    let keys: Vec<String> = (0..7).map(name).collect();
    for (i, key) in keys.iter().enumerate() {
        c.ok(storage.put_object(key, Body::from(vec![b'l'; i + 1]), &PutOptions::new()).await, "put")?;
    }
    let outside = profile.key("list-outside.txt");
    c.ok(storage.put_object(&outside, Body::from("o"), &PutOptions::new()).await, "put")?;

    let listed = c.ok(storage.list_objects(&prefix, &ListOptions::new()).all().await, "list")?;
    let names: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    c.ensure(names == keys, || format!("listed {names:?}"))?;
    let sizes: Vec<u64> = listed.iter().map(|o| o.size).collect();
    c.ensure(sizes == (1..=7).collect::<Vec<u64>>(), || format!("sizes {sizes:?}"))?;
    c.ensure(listed.iter().all(|o| o.last_modified.is_some()), || format!("entries without a date: {listed:?}"))?;
    let with_etags = listed.iter().all(|o| o.etag.is_some());
    c.ensure(with_etags == profile.lists_etags, || format!("ETags listed: {with_etags}"))?;
    if !with_etags {
        c.note("listings give no ETags");
    }
    c.pass();

    let after =
        c.ok(storage.list_objects(&prefix, &ListOptions::new().with_start_after(&keys[3])).all().await, "list")?;
    let names: Vec<&str> = after.iter().map(|o| o.key.as_str()).collect();
    c.ensure(names == keys[4..], || format!("after {:?}: {names:?}", keys[3]))?;
    c.pass();

    // Entry by entry: the first three, then stop (a web page of three).
    let mut listing = storage.list_objects(&prefix, &ListOptions::new());
    let mut first = Vec::new();
    while first.len() < 3 {
        match c.ok(listing.try_next().await, "next entry")? {
            Some(object) => first.push(object.key),
            None => break,
        }
    }
    c.ensure(first == keys[..3], || format!("the first three: {first:?}"))?;
    drop(listing);
    let nothing = c.ok(storage.list_objects(&profile.key("list-none/"), &ListOptions::new()).all().await, "list")?;
    c.ensure(nothing.is_empty(), || format!("an empty prefix listed {nothing:?}"))?;
    c.pass();

    // Without sub-folders: only the keys directly under the prefix.
    let deep = format!("{prefix}folder/deeper.txt");
    c.ok(storage.put_object(&deep, Body::from("d"), &PutOptions::new()).await, "put")?;
    let every = c.ok(storage.list_objects(&prefix, &ListOptions::new()).all().await, "list")?;
    c.ensure(every.iter().any(|o| o.key == deep), || format!("the key in a sub-folder is not listed: {every:?}"))?;
    let shallow =
        c.ok(storage.list_objects(&prefix, &ListOptions::new().with_subfolders(false)).all().await, "list")?;
    let names: Vec<&str> = shallow.iter().map(|o| o.key.as_str()).collect();
    c.ensure(names == keys, || format!("without sub-folders: {names:?}"))?;
    c.ok(storage.delete_object(&deep).await, "delete")?;
    c.pass();

    for key in keys.iter().chain([&outside]) {
        c.ok(storage.delete_object(key).await, "delete")?;
    }
    c.done()
}
