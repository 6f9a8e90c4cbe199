//! Service rules checked on a real store, where the other tests cannot reach.

use crate::test_fixture::fixture;
use crate::{AbsentKeys, ServiceError};
use xc_types::Tags;

/// A tag stored before the tag characters were checked (a comma, a newline) can still be
/// removed by its name; removing a key that is not there is done for AWS's UntagResource and
/// not found for the native API; new tags are checked, old ones do not block new ones.
#[tokio::test]
async fn tags_stored_before_the_rules_can_be_removed() {
    let f = fixture().await;
    let id = f.connection.clone();
    let arn = f
        .service
        .get_connection(&f.owner, id.as_str())
        .await
        .expect("get")
        .arn;
    f.service
        .store
        .write(move |db| {
            let mut c = db.get_connection(&id)?.expect("connection");
            c.tags = Tags::from([
                ("x,y".to_owned(), "old".to_owned()),
                ("line\nbreak".to_owned(), "old".to_owned()),
            ]);
            db.update_connection(&c)?;
            Ok::<_, ServiceError>(())
        })
        .await
        .expect("legacy tags");
    let tags = |f: &crate::test_fixture::Fixture| {
        let (s, o, arn) = (f.service.clone(), f.owner.clone(), arn.clone());
        async move { s.tags(&o, &arn).await.expect("tags") }
    };
    // New tags go on beside the old ones.
    f.service
        .tag(&f.owner, &arn, Tags::from([("env".into(), "prod".into())]))
        .await
        .expect("tag beside legacy ones");
    assert!(
        f.service
            .tag(
                &f.owner,
                &arn,
                Tags::from([("a\u{202e}b".into(), "".into())])
            )
            .await
            .is_err()
    );
    f.service
        .untag(&f.owner, &arn, vec!["x,y".into()], AbsentKeys::Refuse)
        .await
        .expect("comma key");
    f.service
        .untag(
            &f.owner,
            &arn,
            vec!["line\nbreak".into()],
            AbsentKeys::Refuse,
        )
        .await
        .expect("newline key");
    assert_eq!(
        tags(&f).await,
        Tags::from([("env".to_owned(), "prod".to_owned())])
    );
    let absent = f
        .service
        .untag(&f.owner, &arn, vec!["nope".into()], AbsentKeys::Refuse)
        .await;
    assert!(
        matches!(absent, Err(ServiceError::NotFound { .. })),
        "{absent:?}"
    );
    f.service
        .untag(&f.owner, &arn, vec!["nope".into()], AbsentKeys::Ignore)
        .await
        .expect("AWS: nothing to remove is done");
    // At most 50, counting the ones already there; a refusal changes nothing.
    let many: Tags = (0..50).map(|i| (format!("k{i}"), String::new())).collect();
    assert!(f.service.tag(&f.owner, &arn, many).await.is_err());
    assert_eq!(tags(&f).await.len(), 1);
}
