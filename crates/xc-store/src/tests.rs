use super::*;
use xc_types::*;

fn account(n: u64) -> Account {
    Account {
        account_id: AccountId::from_number(n),
        name: format!("acct{n}"),
        kind: AccountKind::Tenant,
        created_at: 1,
    }
}

#[tokio::test]
async fn write_is_durable_and_failed_writes_leave_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    {
        let store = Store::open(&path).expect("open");
        store
            .write(|db| db.insert_account(&account(1)))
            .await
            .expect("insert");
        // A closure that inserts and then fails leaves no trace.
        let r: Result<(), StoreError> = store
            .write(|db| {
                db.insert_account(&account(2))?;
                Err(StoreError::Corrupt("rolled back on purpose".into()))
            })
            .await;
        assert!(r.is_err());
        // A duplicate is reported as such.
        let dup = store.write(|db| db.insert_account(&account(1))).await;
        assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
    }
    let store = Store::open(&path).expect("reopen");
    let accounts = store.read(|db| db.list_accounts()).await.expect("list");
    assert_eq!(accounts, vec![account(1)]);
}

#[tokio::test]
async fn concurrent_writes_are_group_committed_without_loss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = std::sync::Arc::new(Store::open(&dir.path().join("db.sqlite")).expect("open"));
    let mut tasks = Vec::new();
    for n in 0..200u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .write(move |db| db.insert_account(&account(n + 10)))
                .await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("write");
    }
    let n = store
        .read(|db| db.list_accounts())
        .await
        .expect("list")
        .len();
    assert_eq!(n, 200);
}
