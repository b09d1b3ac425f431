//! The registry store's contract: versions pushed in order and kept, invalid
//! or too large registries refused, and concurrent pushes never sharing a
//! version.

use tributary::failure::FailureKind;
use tributary::ports::{RegistryStore, RegistryStoreError, StoredRegistry};
use tributary::registry::Syntax;

use super::at;

/// A valid registry, as the team writes it.
pub const REGISTRY_YAML: &str = include_str!("../../../examples/registry.yaml");

/// The same registry in JSON.
pub fn registry_json() -> String {
    let value: serde_json::Value = serde_saphyr::from_str(REGISTRY_YAML).unwrap();
    serde_json::to_string_pretty(&value).unwrap()
}

/// Nothing before the first push; each push is the next version, read back
/// exactly as written (syntax, text, time); older versions stay readable.
pub async fn registry_store_pushes_and_keeps_versions<S: RegistryStore>(store: &S) {
    assert_eq!(store.current().await.unwrap(), None);
    assert_eq!(store.get(1).await.unwrap(), None);

    let t1 = at("2024-05-01T09:00:00Z");
    assert_eq!(
        store.push(Syntax::Yaml, REGISTRY_YAML, t1).await.unwrap(),
        1
    );
    let first = StoredRegistry {
        version: 1,
        syntax: Syntax::Yaml,
        text: REGISTRY_YAML.to_owned(),
        stored_at: t1,
    };
    assert_eq!(store.current().await.unwrap(), Some(first.clone()));
    assert_eq!(store.get(1).await.unwrap(), Some(first.clone()));
    let registry = first.load().unwrap();
    assert!(registry.find_source("acme-ftp").is_some());

    let json = registry_json();
    let t2 = at("2024-05-02T09:30:00.250Z");
    assert_eq!(store.push(Syntax::Json, &json, t2).await.unwrap(), 2);
    let second = store.current().await.unwrap().unwrap();
    assert_eq!(
        second,
        StoredRegistry {
            version: 2,
            syntax: Syntax::Json,
            text: json,
            stored_at: t2,
        }
    );
    assert_eq!(second.load().unwrap(), registry);
    assert_eq!(store.get(1).await.unwrap(), Some(first));
    assert_eq!(store.get(3).await.unwrap(), None);
}

/// An invalid registry is refused with every problem (`path: message`), a
/// text that does not parse with its position; nothing is stored and no
/// version is used up.
pub async fn registry_store_refuses_invalid_registries<S: RegistryStore>(store: &S) {
    let t = at("2024-05-01T09:00:00Z");
    let bad = REGISTRY_YAML
        .replacen("id: acme-retail", "id: ACME Retail!", 1)
        .replacen("max_rows: 50000000", "max_rows: 0", 1);
    let err = store.push(Syntax::Yaml, &bad, t).await.unwrap_err();
    assert_eq!(err.kind(), FailureKind::Misconfigured);
    let RegistryStoreError::Invalid { problems } = &err else {
        panic!("{err}");
    };
    assert!(problems.len() >= 2, "{problems:?}");
    assert!(
        problems.iter().any(|p| p.starts_with("tenants[0].id: ")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("tenants[0].sources[0].rules[0].max_rows: ")),
        "{problems:?}"
    );

    let err = store
        .push(Syntax::Json, "{\"version\": 1, \"tenants\": [", t)
        .await
        .unwrap_err();
    let RegistryStoreError::Invalid { problems } = &err else {
        panic!("{err}");
    };
    assert_eq!(problems.len(), 1);
    assert!(problems[0].starts_with("line 1, column "), "{problems:?}");

    assert_eq!(store.current().await.unwrap(), None);
    assert_eq!(store.get(1).await.unwrap(), None);
    assert_eq!(store.push(Syntax::Yaml, REGISTRY_YAML, t).await.unwrap(), 1);
}

/// A text over the store's limit is refused, naming the limit; nothing stored.
pub async fn registry_store_refuses_too_large<S: RegistryStore>(store: &S, limit: u64) {
    let mut text = REGISTRY_YAML.to_owned();
    text.push('#');
    text.push_str(&"x".repeat(limit as usize + 1 - text.len()));
    let err = store
        .push(Syntax::Yaml, &text, at("2024-05-01T09:00:00Z"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryStoreError::TooLarge { bytes, limit: l, .. } if l == limit && bytes == limit + 1),
        "{err}"
    );
    assert_eq!(err.kind(), FailureKind::Misconfigured);
    assert_eq!(store.current().await.unwrap(), None);
}

/// Two pushes at once never get the same version: each either gets its own
/// version (holding its own text) or a `Conflict`; at least one succeeds.
/// Raced twice: for the first version and for a later one.
pub async fn registry_store_concurrent_pushes_never_share_a_version<S: RegistryStore>(store: &S) {
    let t = at("2024-05-01T09:00:00Z");
    for round in 0..2 {
        let a = format!("{REGISTRY_YAML}\n# push a, round {round}\n");
        let b = format!("{REGISTRY_YAML}\n# push b, round {round}\n");
        let (ra, rb) = tokio::join!(
            store.push(Syntax::Yaml, &a, t),
            store.push(Syntax::Yaml, &b, t)
        );
        let mut won = Vec::new();
        for (result, text) in [(ra, &a), (rb, &b)] {
            match result {
                Ok(version) => won.push((version, text)),
                Err(err @ RegistryStoreError::Conflict { .. }) => {
                    assert_eq!(err.kind(), FailureKind::Transient);
                }
                Err(err) => panic!("round {round}: {err}"),
            }
        }
        assert!(!won.is_empty(), "round {round}: both pushes lost");
        if let [(va, _), (vb, _)] = won[..] {
            assert_ne!(va, vb, "round {round}: two pushes got version {va}");
        }
        for (version, text) in &won {
            let stored = store.get(*version).await.unwrap().unwrap();
            assert_eq!(&stored.text, *text, "round {round}, version {version}");
        }
        let newest = won.iter().map(|(v, _)| *v).max().unwrap();
        assert_eq!(store.current().await.unwrap().unwrap().version, newest);
    }
}
