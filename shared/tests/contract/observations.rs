//! The observation store's contract: what one poll saw of each path comes
//! back at the next, per source, at any batch size.

use std::collections::HashMap;

use tributary::poll::observations::ObservationStore;
use tributary::poll::select::Observation;

use super::at;

fn seen(size: u64, at_: &str) -> Observation {
    Observation {
        size: Some(size),
        mtime: Some(at("2024-05-01T05:00:00Z")),
        seen_at: at(at_),
    }
}

/// What one poll saw comes back at the next, per source; a later save replaces
/// it; paths never seen are absent; batches beyond the back-end's request
/// limits (100 reads, 25 writes) and paths too long for a sort key work.
pub async fn observations_round_trip<O: ObservationStore>(store: &O) {
    let source = "acme-ftp";
    let paths = |ps: &[&str]| ps.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>();
    assert!(store.load(source, &[]).await.unwrap().is_empty());
    assert!(
        store
            .load(source, &paths(&["/out/a.csv", "/out/b.csv"]))
            .await
            .unwrap()
            .is_empty()
    );

    let long = format!("/out/{}.csv", "naïve-".repeat(250));
    assert!(long.len() > 1024);
    let first = [
        ("/out/a.csv".to_owned(), seen(1, "2024-05-01T06:00:00Z")),
        ("/out/b c.csv".to_owned(), seen(2, "2024-05-01T06:00:00Z")),
        (long.clone(), seen(3, "2024-05-01T06:00:00Z")),
        // The same path twice in one save: the last one counts.
        ("/out/a.csv".to_owned(), seen(4, "2024-05-01T06:00:00Z")),
    ];
    store.save(source, &first).await.unwrap();
    let asked = paths(&[
        "/out/a.csv",
        "/out/b c.csv",
        &long,
        "/out/new.csv",
        "/out/a.csv",
    ]);
    let loaded = store.load(source, &asked).await.unwrap();
    let expected: HashMap<String, Observation> = [
        ("/out/a.csv".to_owned(), seen(4, "2024-05-01T06:00:00Z")),
        ("/out/b c.csv".to_owned(), seen(2, "2024-05-01T06:00:00Z")),
        (long.clone(), seen(3, "2024-05-01T06:00:00Z")),
    ]
    .into();
    assert_eq!(loaded, expected);
    assert!(
        store
            .load("globex-ftp", &paths(&["/out/a.csv"]))
            .await
            .unwrap()
            .is_empty(),
        "observations are per source"
    );

    let growing = seen(5000, "2024-05-01T06:10:00Z");
    store
        .save(source, &[("/out/a.csv".to_owned(), growing)])
        .await
        .unwrap();
    let loaded = store
        .load(source, &paths(&["/out/a.csv", "/out/b c.csv"]))
        .await
        .unwrap();
    assert_eq!(loaded["/out/a.csv"], growing);
    assert_eq!(loaded["/out/b c.csv"], seen(2, "2024-05-01T06:00:00Z"));

    let bulk: Vec<(String, Observation)> = (0..250u64)
        .map(|i| (format!("/bulk/{i:03}.csv"), seen(i, "2024-05-01T06:20:00Z")))
        .collect();
    store.save(source, &bulk).await.unwrap();
    let mut asked: Vec<String> = bulk.iter().map(|(p, _)| p.clone()).collect();
    asked.extend((250..260).map(|i| format!("/bulk/{i:03}.csv")));
    let loaded = store.load(source, &asked).await.unwrap();
    assert_eq!(loaded, bulk.into_iter().collect::<HashMap<_, _>>());
}
