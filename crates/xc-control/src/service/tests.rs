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

/// A connection's default alarms and one of the caller's own with a webhook: the alarm moves
/// with the stored minutes (OK while a link carries the connection, ALARM for a minute none
/// does), each transition goes into its history and queues a signed delivery, and a receiver
/// that cannot be reached shows in the delivery's attempts; the other tenant sees none of it.
#[tokio::test]
async fn alarms_follow_the_minutes_and_queue_their_notifications() {
    use super::EVALUATION_DELAY_SECS;
    use std::sync::atomic::Ordering;
    use xc_types::api::alarms::*;
    use xc_types::api::metrics::MetricName;
    use xc_types::gateway::{LinkSample, MetricSample};

    let f = fixture().await;
    let s = &f.service;
    let links = f.planned_links().await;
    let id = f.connection.clone();
    assert!(!links.is_empty(), "planned links");

    let defaults = s
        .list_alarms(
            &f.owner,
            ListAlarmsQuery {
                connection: Some(id.clone()),
            },
        )
        .await
        .expect("list");
    let names: Vec<&str> = defaults.alarms.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("{id}-down"),
            format!("{id}-loss"),
            format!("{id}-utilization")
        ]
    );
    assert!(
        defaults
            .alarms
            .iter()
            .all(|a| a.state == AlarmState::InsufficientData && a.default)
    );

    let hook = s
        .create_webhook(
            &f.owner,
            CreateWebhookRequest {
                // Nothing listens on port 1.
                url: "http://127.0.0.1:1/hook".into(),
                secret: Some("0123456789abcdef".into()),
            },
        )
        .await
        .expect("webhook");
    assert_eq!(hook.secret, None, "a secret given is not echoed");
    let request = |name: &str| CreateAlarmRequest {
        name: name.into(),
        connection_id: id.clone(),
        metric: MetricName::ConnectionState,
        link_id: None,
        stat: "Minimum".into(),
        period: 60,
        comparison: Comparison::LessThanThreshold,
        threshold: 1.0,
        evaluation_periods: 1,
        datapoints_to_alarm: None,
        missing_data: MissingData::Missing,
        webhooks: vec![hook.id.clone()],
    };
    let alarm = s
        .create_alarm(&f.owner, request("down"))
        .await
        .expect("alarm");
    // Refusals: a name taken, a period not offered, M above N, another tenant's webhook.
    let dup = s.create_alarm(&f.owner, request("down")).await;
    assert!(matches!(dup, Err(ServiceError::Conflict(_))), "{dup:?}");
    for bad in [
        CreateAlarmRequest {
            period: 61,
            ..request("x")
        },
        CreateAlarmRequest {
            datapoints_to_alarm: Some(2),
            ..request("x")
        },
        CreateAlarmRequest {
            evaluation_periods: 1441,
            ..request("x")
        },
        CreateAlarmRequest {
            stat: "Median".into(),
            ..request("x")
        },
    ] {
        let r = s.create_alarm(&f.owner, bad).await;
        assert!(matches!(r, Err(ServiceError::Validation { .. })), "{r:?}");
    }
    let theirs = s.create_alarm(&f.remote, request("x")).await;
    assert!(
        matches!(theirs, Err(ServiceError::NotFound { .. })),
        "{theirs:?}"
    );
    let peek = s.get_alarm(&f.remote, alarm.id.as_str()).await;
    assert!(
        matches!(peek, Err(ServiceError::NotFound { .. })),
        "{peek:?}"
    );

    // Minutes from the owner's gateway: two with the links up, then one with them down.
    let t0 = f.clock.0.load(Ordering::SeqCst);
    let t0 = t0 - t0.rem_euclid(60);
    let sample = |seq: u64, minute: i64, up: bool| MetricSample {
        seq,
        minute,
        links: links
            .iter()
            .map(|l| LinkSample {
                id: l.id,
                secs: 60,
                probes_sent: 60,
                probes_answered: 60,
                secured: up,
                bgp_established: up,
                ..LinkSample::default()
            })
            .collect(),
    };
    let record = |samples: Vec<MetricSample>| {
        let g = f.gateways.0.clone();
        let store = s.store.clone();
        async move {
            store
                .write(move |db| Ok::<_, ServiceError>(db.record_samples(&g, 1, &samples)?))
                .await
                .expect("samples")
        }
    };
    record(vec![sample(1, t0, true), sample(2, t0 + 60, true)]).await;
    let at = |t: i64| f.clock.0.store(t, Ordering::SeqCst);
    at(t0 + 120 + EVALUATION_DELAY_SECS);
    assert!(s.evaluate_alarms().await.expect("evaluate") >= 2);
    let state = |id: &str| {
        let (s, o, id) = (s.clone(), f.owner.clone(), id.to_owned());
        async move { s.get_alarm(&o, &id).await.expect("get") }
    };
    let a = state(alarm.id.as_str()).await;
    assert_eq!(a.state, AlarmState::Ok, "{}", a.state_reason);
    // Evaluated once per period: nothing new to look at yet.
    assert_eq!(s.evaluate_alarms().await.expect("evaluate"), 0);

    record(vec![sample(3, t0 + 120, false)]).await;
    at(t0 + 180 + EVALUATION_DELAY_SECS);
    s.evaluate_alarms().await.expect("evaluate");
    let a = state(alarm.id.as_str()).await;
    assert_eq!(a.state, AlarmState::Alarm);
    assert!(
        a.state_reason
            .starts_with("Threshold Crossed: 1 out of the last 1 datapoints [0 ("),
        "{}",
        a.state_reason
    );
    let down = defaults.alarms[0].id.clone();
    assert_eq!(state(down.as_str()).await.state, AlarmState::Alarm);
    let history = s
        .alarm_history(&f.owner, alarm.id.as_str())
        .await
        .expect("history");
    let kinds: Vec<_> = history
        .items
        .iter()
        .map(|h| (h.kind, h.old_state, h.new_state))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                AlarmHistoryKind::StateUpdate,
                Some(AlarmState::Ok),
                Some(AlarmState::Alarm)
            ),
            (
                AlarmHistoryKind::StateUpdate,
                Some(AlarmState::InsufficientData),
                Some(AlarmState::Ok)
            ),
            (
                AlarmHistoryKind::ConfigurationUpdate,
                None,
                Some(AlarmState::InsufficientData)
            ),
        ]
    );

    // Two notifications queued (to OK, to ALARM); the receiver cannot be reached.
    // (The transport is the API's; this one's receiver cannot be reached.)
    let refused = |_: crate::Outgoing| async {
        crate::Answer::Failed("cannot connect: connection refused".into())
    };
    assert_eq!(s.deliver_webhooks(refused).await.expect("deliver"), 2);
    let d = s
        .webhook_deliveries(&f.owner, hook.id.as_str())
        .await
        .expect("deliveries");
    assert_eq!(d.deliveries.len(), 2);
    let latest = &d.deliveries[0];
    assert_eq!(latest.body["newState"], "ALARM");
    assert_eq!(latest.body["alarmId"], alarm.id.as_str());
    assert_eq!(latest.state, DeliveryState::Pending);
    assert_eq!(latest.attempts.len(), 1);
    assert_eq!(latest.attempts[0].status_code, None);
    assert!(
        latest.attempts[0]
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("cannot connect")),
        "{:?}",
        latest.attempts[0]
    );
    // Not due again for 5 s; after an hour of failures, given up.
    assert_eq!(s.deliver_webhooks(refused).await.expect("deliver"), 0);
    at(t0 + 180 + EVALUATION_DELAY_SECS + 3_600);
    assert_eq!(s.deliver_webhooks(refused).await.expect("deliver"), 2);
    let d = s
        .webhook_deliveries(&f.owner, hook.id.as_str())
        .await
        .expect("deliveries");
    assert!(
        d.deliveries
            .iter()
            .all(|x| x.state == DeliveryState::Failed && x.attempts.len() == 2)
    );
    // The other tenant cannot read them; deleting the webhook takes it off the alarm.
    assert!(
        s.webhook_deliveries(&f.remote, hook.id.as_str())
            .await
            .is_err()
    );
    s.delete_webhook(&f.owner, hook.id.as_str())
        .await
        .expect("delete");
    assert!(state(alarm.id.as_str()).await.webhooks.is_empty());
    // The owner's events, a page of two at a time: the connection's creation and acceptance,
    // its links, the alarms' transitions; the remote side's hold no alarm of the owner's.
    let events = |who: crate::Caller| {
        let s = s.clone();
        async move {
            let mut all = Vec::new();
            let mut q = xc_types::api::events::EventsQuery {
                since: Some("2020-01-01T00:00:00Z".into()),
                max_results: Some(2),
                ..Default::default()
            };
            loop {
                let page = s.list_events(&who, q.clone()).await.expect("events");
                assert!(page.events.len() <= 2);
                all.extend(page.events);
                match page.next_token {
                    Some(t) => q.next_token = Some(t),
                    None => break all,
                }
            }
        }
    };
    use xc_types::api::events::EventType as E;
    let mine = events(f.owner.clone()).await;
    let kinds: Vec<E> = mine.iter().map(|e| e.kind).collect();
    for k in [
        E::ConnectionCreated,
        E::ConnectionStateChange,
        E::LinkAdded,
        E::AlarmStateChange,
    ] {
        assert!(kinds.contains(&k), "{k:?} in {kinds:?}");
    }
    assert!(mine.windows(2).all(|w| w[0].id < w[1].id), "in order");
    let to_alarm = mine
        .iter()
        .find(|e| {
            e.kind == E::AlarmStateChange
                && e.detail["alarmId"] == alarm.id.as_str()
                && e.detail["newState"] == "ALARM"
        })
        .expect("the transition to ALARM");
    assert_eq!(to_alarm.detail["oldState"], "OK");
    let theirs = events(f.remote.clone()).await;
    assert!(theirs.iter().any(|e| e.kind == E::LinkAdded));
    assert!(
        !theirs
            .iter()
            .any(|e| e.kind == E::AlarmStateChange && e.detail["alarmId"] == alarm.id.as_str())
    );

    // A deleted connection takes its alarms with it.
    s.delete_connection(&f.owner, id.as_str(), None)
        .await
        .expect("delete");
    s.lifecycle_pass().await.expect("pass");
    let left = s
        .list_alarms(&f.owner, ListAlarmsQuery::default())
        .await
        .expect("list");
    assert!(left.alarms.is_empty(), "{:?}", left.alarms);
}

/// Two hours of minutes roll up into 5-minute and hourly rows that give the same averages and
/// counts; a late minute has its buckets rolled again; once the minutes are past their 15 days
/// a query takes 5-minute periods from the rollups, and past 63 days hourly ones.
#[tokio::test]
async fn metrics_roll_up_and_older_periods_read_the_rollups() {
    use super::connections::fmt_time;
    use std::sync::atomic::Ordering;
    use xc_types::api::metrics::MetricsQuery;
    use xc_types::gateway::{LinkSample, MetricSample};

    let f = fixture().await;
    let s = &f.service;
    let links = f.planned_links().await;
    let now = f.clock.0.load(Ordering::SeqCst);
    let t0 = now - now.rem_euclid(3600) - 7200;
    // Minute k: 60 kB x (k mod 7 + 1) sent on each link, every 10th minute down.
    let sample = |k: i64, extra: u64| MetricSample {
        seq: k as u64 + 1 + extra,
        minute: t0 + 60 * k,
        links: links
            .iter()
            .map(|l| LinkSample {
                id: l.id,
                secs: 60,
                tx_bytes: 60_000 * (k as u64 % 7 + 1) + extra,
                probes_sent: 60,
                probes_answered: 58,
                secured: k % 10 != 0,
                bgp_established: true,
                ..LinkSample::default()
            })
            .collect(),
    };
    let record = |samples: Vec<MetricSample>| {
        let g = f.gateways.0.clone();
        let store = s.store.clone();
        async move {
            store
                .write(move |db| Ok::<_, ServiceError>(db.record_samples(&g, 1, &samples)?))
                .await
                .expect("samples")
        }
    };
    record((0..120).map(|k| sample(k, 0)).collect()).await;
    f.clock.0.store(t0 + 7200 + 180, Ordering::SeqCst);
    s.roll_up().await.expect("roll up");
    let marks = || {
        s.store
            .read(|db| Ok::<_, ServiceError>((db.rollup_mark(300)?, db.rollup_mark(3600)?)))
    };
    assert_eq!(
        marks().await.expect("marks"),
        (Some(t0 + 7200), Some(t0 + 7200))
    );

    let query = |metric: &str, period: u32, stat: &str| {
        let (s, o, id) = (s.clone(), f.owner.clone(), f.connection.clone());
        let q = MetricsQuery {
            metric: Some(metric.into()),
            start: Some(fmt_time(t0)),
            end: Some(fmt_time(t0 + 7200)),
            period: Some(period),
            stat: Some(stat.into()),
            ..MetricsQuery::default()
        };
        async move { s.connection_metrics(&o, id.as_str(), q).await }
    };
    let points = |r: xc_types::api::metrics::MetricsResponse| -> Vec<f64> {
        r.metrics[0].points.iter().map(|p| p.value).collect()
    };
    // Each hour's average and count from the hourly rows, against the mean of its minutes.
    let check = |minutes: Vec<f64>, hourly: Vec<f64>, counts: Vec<f64>| {
        assert_eq!(minutes.len(), 120);
        assert_eq!(counts, [60.0, 60.0]);
        for (h, x) in hourly.iter().enumerate() {
            let mean = minutes[h * 60..(h + 1) * 60].iter().sum::<f64>() / 60.0;
            assert!(
                (x - mean).abs() < 1e-6 * mean.max(1.0),
                "hour {h}: {x} and {mean}"
            );
        }
    };
    for metric in ["ConnectionBpsEgress", "ConnectionEncryptionState"] {
        let minutes = points(query(metric, 60, "Average").await.expect("minutes"));
        let hourly = points(query(metric, 3600, "Average").await.expect("hourly"));
        let counts = points(query(metric, 3600, "SampleCount").await.expect("count"));
        check(minutes, hourly, counts);
    }
    let before = points(
        query("ConnectionBpsEgress", 300, "Average")
            .await
            .expect("5 min"),
    );

    // A late minute of the first hour (a gateway's backlog) adds up and is rolled again.
    record(vec![sample(7, 1_000)]).await;
    let dirty = s
        .store
        .read(|db| Ok::<_, ServiceError>(db.dirty_rollups(10)?))
        .await
        .expect("dirty");
    assert_eq!(dirty, [(f.connection.to_string(), t0)], "its hour");
    s.roll_up().await.expect("roll up");
    let dirty = s
        .store
        .read(|db| Ok::<_, ServiceError>(db.dirty_rollups(10)?))
        .await
        .expect("dirty");
    assert!(dirty.is_empty(), "{dirty:?}");
    assert_eq!(
        marks().await.expect("marks"),
        (Some(t0 + 7200), Some(t0 + 7200))
    );
    let minutes = points(
        query("ConnectionBpsEgress", 60, "Average")
            .await
            .expect("minutes"),
    );
    let hourly = points(
        query("ConnectionBpsEgress", 3600, "Average")
            .await
            .expect("hourly"),
    );
    check(minutes, hourly, vec![60.0, 60.0]);
    let after = points(
        query("ConnectionBpsEgress", 300, "Average")
            .await
            .expect("5 min"),
    );
    assert!(after[1] > before[1] && after[0] == before[0] && after[2..] == before[2..]);

    // 20 days on: the minutes are gone, 5-minute periods come from the rollups.
    f.clock.0.store(t0 + 20 * 86_400, Ordering::SeqCst);
    s.lifecycle_pass().await.expect("retention");
    let r = query("ConnectionBpsEgress", 60, "Average").await;
    assert!(
        matches!(&r, Err(ServiceError::Validation { field, .. }) if field == "period"),
        "{r:?}"
    );
    let old = points(
        query("ConnectionBpsEgress", 300, "Average")
            .await
            .expect("5 min"),
    );
    assert_eq!(old, after);
    let peak = points(
        query("ConnectionBpsEgress", 300, "Maximum")
            .await
            .expect("max"),
    );
    assert_eq!(peak, after, "one rolled-up value per 5-minute period");
    // 70 days on: hourly only.
    f.clock.0.store(t0 + 70 * 86_400, Ordering::SeqCst);
    s.lifecycle_pass().await.expect("retention");
    assert!(query("ConnectionBpsEgress", 300, "Average").await.is_err());
    let hourly = points(
        query("ConnectionBpsEgress", 3600, "Average")
            .await
            .expect("hourly"),
    );
    assert_eq!(hourly.len(), 2);
    assert!((hourly[0] - after[..12].iter().sum::<f64>() / 12.0).abs() < 1e-6 * hourly[0]);
}

/// Quotas hold under concurrent creates (the check and the insert are one transaction): with
/// room for two more connections, eight at once leave exactly two created; a bandwidth increase
/// past `bandwidth-mbps` and an accept past the acceptor's quota are refused; only the operator
/// sets quotas.
#[tokio::test]
async fn quotas_hold_under_concurrent_creates() {
    use xc_types::api::quotas::{QuotaName, SetQuotaRequest};
    use xc_types::api::{
        AcceptConnectionRequest, CreateConnectionRequest, UpdateConnectionRequest,
    };

    let f = fixture().await;
    let s = &f.service;
    let set = |who: &crate::Caller, quota: QuotaName, value: u64| {
        let (s, who) = (s.clone(), who.clone());
        let account = who.account.to_string();
        move |by: crate::Caller| async move {
            s.set_quota(
                &by,
                SetQuotaRequest {
                    account_id: account,
                    quota,
                    value: Some(value),
                },
            )
            .await
        }
    };
    let tenant_try =
        set(&f.owner, QuotaName::ConnectionsPerEnvironment, 100)(f.owner.clone()).await;
    assert!(
        matches!(tenant_try, Err(ServiceError::AccessDenied(_))),
        "{tenant_try:?}"
    );
    // The fixture's connection is one; room for two more.
    set(&f.owner, QuotaName::ConnectionsPerEnvironment, 3)(f.operator.clone())
        .await
        .expect("set");
    let (aps, _) = s
        .list_own_attach_points(&f.owner, None, None, "")
        .await
        .expect("attach points");
    let request = || CreateConnectionRequest {
        default_alarms: Some(false),
        environment_id: "gcp-us-west1".into(),
        bandwidth: "1Gbps".into(),
        attach_point: aps[0].id.to_string(),
        remote_account: Some(f.remote.account.to_string()),
        description: None,
        tags: None,
        routing_policy: None,
        client_token: None,
        last_mile: None,
    };
    let tries: Vec<_> = (0..8)
        .map(|_| {
            let (s, who, req) = (s.clone(), f.owner.clone(), request());
            tokio::spawn(async move { s.create_connection(&who, req).await })
        })
        .collect();
    let mut created = Vec::new();
    let mut refused = 0;
    for t in tries {
        match t.await.expect("task") {
            Ok(c) => created.push(c),
            Err(ServiceError::QuotaExceeded(m)) => {
                assert!(m.contains("connections-per-environment is 3"), "{m}");
                refused += 1;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((created.len(), refused), (2, 6));

    // Bandwidth: three 1 Gbps connections use 3,000 of 3,500 Mbps; 2 Gbps for one would pass.
    set(&f.owner, QuotaName::BandwidthMbps, 3_500)(f.operator.clone())
        .await
        .expect("set");
    let wider = s
        .update_connection(
            &f.owner,
            f.connection.as_str(),
            UpdateConnectionRequest {
                bandwidth: Some("2Gbps".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(&wider, Err(ServiceError::QuotaExceeded(m)) if m.contains("bandwidth-mbps is 3500")),
        "{wider:?}"
    );
    // The remote side is a side of one connection in gcp-us-west1: with a quota of one, it
    // cannot accept a second.
    set(&f.remote, QuotaName::ConnectionsPerEnvironment, 1)(f.operator.clone())
        .await
        .expect("set");
    let (theirs, _) = s
        .list_own_attach_points(&f.remote, None, None, "")
        .await
        .expect("attach points");
    let accepted = s
        .accept(
            &f.remote,
            AcceptConnectionRequest {
                default_alarms: Some(false),
                activation_key: created[0].activation_key.clone().expect("key"),
                attach_point: theirs[0].id.to_string(),
                routing_policy: None,
                description: None,
                tags: None,
                client_token: None,
            },
        )
        .await;
    assert!(
        matches!(&accepted, Err(ServiceError::QuotaExceeded(m)) if m.contains("1 is in use in gcp-us-west1")),
        "{accepted:?}"
    );
    let list = s.list_quotas(&f.remote, None).await.expect("quotas");
    let per_env = list
        .quotas
        .iter()
        .find(|q| q.name == QuotaName::ConnectionsPerEnvironment)
        .expect("quota");
    assert_eq!((per_env.value, per_env.used), (1, 1));

    // The use the quotas read is kept by triggers as connections change: after a change asked
    // for and a delete it still equals the count of the connections themselves.
    s.update_connection(
        &f.owner,
        created[0].connection.id.as_str(),
        UpdateConnectionRequest {
            bandwidth: Some("500Mbps".into()),
            ..Default::default()
        },
    )
    .await
    .expect("a narrower bandwidth");
    s.delete_connection(&f.owner, created[1].connection.id.as_str(), None)
        .await
        .expect("delete");
    for account in [f.owner.account.clone(), f.remote.account.clone()] {
        let counted_account = account.clone();
        let (kept, counted) = s
            .store
            .read(move |db| {
                Ok::<_, ServiceError>((
                    (
                        db.connections_by_environment(&account)?,
                        db.bandwidth_used_mbps(&account)?,
                    ),
                    db.counted_use(&account)?,
                ))
            })
            .await
            .expect("use");
        assert_eq!(kept, counted);
        let account = counted_account;
        let counts = s
            .store
            .read(move |db| {
                use xc_store::Counted::*;
                [AttachPoints, AccessKeys, Alarms, Webhooks]
                    .into_iter()
                    .map(|c| {
                        Ok::<_, ServiceError>((
                            db.count_of_account(c, &account)?,
                            db.counted_of_account(c, &account)?,
                        ))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .expect("counts");
        assert!(
            counts.iter().all(|(kept, counted)| kept == counted),
            "{counts:?}"
        );
        assert!(counts.iter().any(|(kept, _)| *kept > 0), "{counts:?}");
    }
}

/// Retention removes the records past it, oldest first, and keeps the last one's hash: the
/// check starts there and still finds the trail intact; records appended after it chain on.
#[tokio::test]
async fn audit_retention_keeps_the_chain_checkable() {
    use crate::AuditEntry;
    use std::sync::atomic::Ordering;
    use xc_types::api::audit::{AuditOutcome, AuditQuery, PrincipalKind};
    let f = fixture().await;
    let entry = |operation: &str| AuditEntry {
        account: f.owner.account.clone(),
        access_key: Some(f.owner.key.clone()),
        principal: PrincipalKind::AccessKey,
        source: None,
        user_agent: Some("x".repeat(2000)),
        operation: operation.into(),
        resource: None,
        outcome: AuditOutcome::Success,
        error_code: None,
        request_id: "r".into(),
    };
    let start = crate::Clock::now(f.clock.as_ref());
    for _ in 0..3 {
        f.service
            .record(entry("GetConnection"))
            .await
            .expect("record");
    }
    // 91 days on, two more; then the retention (90 days) removes the first three.
    f.clock.0.store(start + 91 * 86_400, Ordering::SeqCst);
    for _ in 0..2 {
        f.service
            .record(entry("ListConnections"))
            .await
            .expect("record");
    }
    assert_eq!(f.service.prune_audit().await.expect("prune"), 3);
    assert_eq!(f.service.prune_audit().await.expect("prune again"), 0);
    let v = f.service.verify_audit(&f.operator).await.expect("verify");
    assert!(v.intact, "{v:?}");
    assert_eq!(
        (v.checked, v.first_seq, v.last_seq, v.pruned_through),
        (2, Some(4), Some(5), 3)
    );
    // The next record chains on from the last; the owner reads its records, its long user
    // agent cut to 512 bytes.
    f.service
        .record(entry("GetConnection"))
        .await
        .expect("record");
    let v = f.service.verify_audit(&f.operator).await.expect("verify");
    assert!(v.intact && v.last_seq == Some(6), "{v:?}");
    let list = f
        .service
        .list_audit(&f.owner, AuditQuery::default())
        .await
        .expect("list");
    assert_eq!(
        list.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [4, 5, 6]
    );
    assert!(list.records.iter().all(|r| {
        r.user_agent
            .as_ref()
            .is_some_and(|u| u.len() <= 512 && u.ends_with('…'))
    }));
    // Everything removed: the anchor alone carries the chain on.
    f.clock.0.store(start + 200 * 86_400, Ordering::SeqCst);
    assert_eq!(f.service.prune_audit().await.expect("prune"), 3);
    f.service
        .record(entry("GetConnection"))
        .await
        .expect("record");
    let v = f.service.verify_audit(&f.operator).await.expect("verify");
    assert!(
        v.intact && v.first_seq == Some(7) && v.pruned_through == 6,
        "{v:?}"
    );
}

/// Records appended behind their requests, from many tasks at once, land as one unbroken chain,
/// every one of them, once flushed; a record written directly chains on after them.
#[tokio::test]
async fn audit_records_queued_from_many_tasks_form_one_chain() {
    use crate::AuditEntry;
    use xc_types::api::audit::{AuditOutcome, PrincipalKind};
    let f = fixture().await;
    let entry = |i: usize| AuditEntry {
        account: f.owner.account.clone(),
        access_key: Some(f.owner.key.clone()),
        principal: PrincipalKind::AccessKey,
        source: None,
        user_agent: None,
        operation: "GetConnection".into(),
        resource: None,
        outcome: AuditOutcome::Success,
        error_code: None,
        request_id: format!("r{i}"),
    };
    // More than the queue holds, so some wait for room.
    let total = super::audit::MAX_AUDIT_IN_FLIGHT as usize + 500;
    let tasks: Vec<_> = (0..total)
        .map(|i| {
            let (s, e) = (f.service.clone(), entry(i));
            tokio::spawn(async move { s.record_soon(e).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    f.service.flush_audit().await;
    f.service.record(entry(total)).await.expect("record");
    let v = f.service.verify_audit(&f.operator).await.expect("verify");
    assert!(v.intact, "{v:?}");
    assert_eq!(
        (v.checked, v.first_seq, v.last_seq),
        (total as u64 + 1, Some(1), Some(total as u64 + 1))
    );
    assert_eq!(f.service.telemetry.audit_write_failures(), 0);
}

/// A key looked up for a signature is remembered a few seconds, but disabling or deleting it
/// takes effect on the next request, and enabling it again too.
#[tokio::test]
async fn a_remembered_key_is_refused_as_soon_as_it_is_disabled() {
    use xc_types::{KeyRole, KeyStatus};
    let f = fixture().await;
    let s = &f.service;
    let second = s
        .create_access_key(&f.owner, None, KeyRole::Admin)
        .await
        .expect("key");
    let id = second.access_key_id.as_str();
    for _ in 0..2 {
        let (caller, secret) = s
            .credentials_for(id)
            .await
            .expect("lookup")
            .expect("active");
        assert_eq!(caller.account, f.owner.account);
        assert_eq!(&secret[..], second.secret_access_key.as_bytes());
    }
    s.change_access_key(&f.owner, id, Some(KeyStatus::Inactive))
        .await
        .expect("disable");
    assert!(s.credentials_for(id).await.expect("lookup").is_none());
    s.change_access_key(&f.owner, id, Some(KeyStatus::Active))
        .await
        .expect("enable");
    assert!(s.credentials_for(id).await.expect("lookup").is_some());
    s.change_access_key(&f.owner, id, None)
        .await
        .expect("delete");
    assert!(s.credentials_for(id).await.expect("lookup").is_none());
}

/// A month metered and billed (issue 18's worked example, every line computed by hand below):
/// November 2026 on a connection of the `gcp` price list, available from the 1st at 1 Gbps,
/// changed to 2 Gbps at 12:30 on the 10th (mid-hour), down from 10:00 to 10:40 on the 20th, with
/// a price change on the 15th (2 Gbps from $0.45 to $0.50 an hour, data from $0 to $0.01 a GB)
/// and 15 GB each way before it and 15 GB each way after. The same statement after a restart
/// (a new service over the same database).
#[tokio::test]
async fn a_month_is_metered_and_billed_as_computed_by_hand() {
    use crate::catalog::DEFAULT_CATALOG;
    use std::sync::atomic::Ordering;
    use xc_types::ConnectionState;
    use xc_types::api::usage::{LineKind, UsageQuery};
    use xc_types::gateway::{LinkSample, MetricSample};

    const NOV: i64 = 1_793_491_200; // 2026-11-01T00:00:00Z
    const DAY: i64 = 86_400;
    let catalog_text = format!(
        "{DEFAULT_CATALOG}\n[[price_change]]\nprice_list = \"gcp\"\neffective = \"2026-11-15\"\n\
         prices = {{ \"2Gbps\" = 0.50 }}\ndata_transfer_per_gb = 0.01\n"
    );
    let catalog = || crate::Catalog::parse(&catalog_text).expect("catalog");
    // Created and accepted an hour before the month (pending: not billed).
    let f = crate::test_fixture::fixture_at(NOV - 3600, catalog()).await;
    let s = &f.service;
    assert!(s.reconcile_pass().await.expect("plan"));
    let id = f.connection.clone();
    let set = |at, state, mbps| history(s, &id, at, state, mbps);
    set(NOV, ConnectionState::Available, 1000).await;
    set(
        NOV + 9 * DAY + 12 * 3600 + 1800,
        ConnectionState::Available,
        2000,
    )
    .await;
    set(NOV + 19 * DAY + 10 * 3600, ConnectionState::Down, 2000).await;
    set(
        NOV + 19 * DAY + 10 * 3600 + 2400,
        ConnectionState::Available,
        2000,
    )
    .await;
    // 15 GB each way on the 5th and on the 25th, as the owner's gateway counted them.
    let link = f.links().await[0].id;
    let sample = |seq: u64, minute: i64| MetricSample {
        seq,
        minute,
        links: vec![LinkSample {
            id: link,
            secs: 60,
            tx_bytes: 15_000_000_000,
            rx_bytes: 15_000_000_000,
            ..LinkSample::default()
        }],
    };
    let samples = vec![sample(1, NOV + 4 * DAY), sample(2, NOV + 24 * DAY)];
    let gw = f.gateways.0.clone();
    s.store
        .write(move |db| Ok::<_, ServiceError>(db.record_samples(&gw, 1, &samples)?))
        .await
        .expect("samples");

    // Metered as the month goes: nothing of an hour until 15 minutes after it ends.
    f.clock.0.store(NOV + 3600 + 899, Ordering::SeqCst);
    assert_eq!(
        s.meter().await.expect("meter"),
        1,
        "the hour before the month"
    );
    f.clock.0.store(NOV + 3600 + 900, Ordering::SeqCst);
    assert_eq!(s.meter().await.expect("meter"), 1, "the month's first hour");
    f.clock.0.store(NOV + 30 * DAY + 900, Ordering::SeqCst);
    assert_eq!(s.meter().await.expect("meter"), 719);
    assert_eq!(s.meter().await.expect("meter again"), 0);

    let q = UsageQuery {
        month: Some("2026-11".into()),
        account_id: None,
    };
    let st = s.usage(&f.owner, q.clone()).await.expect("statement");
    let lines: Vec<(LineKind, Option<&str>, f64, f64, f64)> = st
        .lines
        .iter()
        .map(|l| {
            assert_eq!(l.connection_id, id.as_str());
            (
                l.kind,
                l.bandwidth.as_deref(),
                l.quantity,
                l.unit_price,
                l.amount,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            // 1st 00:00 to 10th 12:30: 9 days 12.5 hours.
            (LineKind::ConnectionHours, Some("1Gbps"), 228.5, 0.25, 57.13),
            // 10th 12:30 to 15th 00:00: 4 days 11.5 hours, at the old price.
            (LineKind::ConnectionHours, Some("2Gbps"), 107.5, 0.45, 48.38),
            // 15th to the month's end: 16 days (the 40 minutes down included), at the new one.
            (LineKind::ConnectionHours, Some("2Gbps"), 384.0, 0.5, 192.0),
            (LineKind::DataTransferOut, None, 15.0, 0.0, 0.0),
            (LineKind::DataTransferOut, None, 15.0, 0.01, 0.15),
            (LineKind::DataTransferIn, None, 15.0, 0.0, 0.0),
            (LineKind::DataTransferIn, None, 15.0, 0.01, 0.15),
        ]
    );
    assert_eq!(
        (st.month.as_str(), st.currency.as_str(), st.month_to_date),
        ("2026-11", "USD", false)
    );
    assert_eq!(st.subtotal, 297.81);
    // 40 minutes down of 43,200: 99.9074% available, under 99.99%: 10% of the hours' 297.51.
    assert_eq!(st.credits.len(), 1);
    let c = &st.credits[0];
    assert_eq!(
        (c.availability_percent, c.credit_percent, c.amount),
        (99.907407, 10.0, 29.75)
    );
    assert_eq!(c.outages.len(), 1);
    assert_eq!(
        (
            c.outages[0].start.as_str(),
            c.outages[0].end.as_str(),
            c.outages[0].minutes
        ),
        ("2026-11-20T10:00:00Z", "2026-11-20T10:40:00Z", 40.0)
    );
    assert_eq!(st.total, 268.06);
    // Over a VPN: two connections for 2 Gbps (1.25 Gbit/s a tunnel's worth) for 720 hours at
    // $0.05, and the 30 GB sent at $0.09; public transfer: the 30 GB.
    assert_eq!(st.over_vpn.as_ref().map(|v| v.amount), Some(74.7));
    assert_eq!(st.over_public.as_ref().map(|v| v.amount), Some(2.7));
    assert_eq!(st.days.len(), 30);
    assert_eq!(st.days.iter().map(|d| d.amount).sum::<f64>().round(), 298.0);
    // Right-sizing: two 5-minute periods with traffic, 15 GB each way in one minute of each
    // (400 Mbit/s over the period): p95 is 20% of 2 Gbps, and 500 Mbps carries it within 80%,
    // for (0.50 - 0.14) x 730 less a month at today's prices.
    assert_eq!(st.right_sizing.len(), 1);
    let r = &st.right_sizing[0];
    assert_eq!(
        (r.bandwidth.as_str(), r.p95_bps, r.p95_percent, r.periods),
        ("2Gbps", 400e6, 20.0, 2)
    );
    assert_eq!(
        (r.advice, r.suggested_bandwidth.as_deref(), r.monthly_change),
        (
            xc_types::api::usage::SizingAdvice::Smaller,
            Some("500Mbps"),
            Some(-262.8)
        )
    );
    assert_eq!(
        r.message,
        "p95 is 20% of 2Gbps: 500Mbps would carry it and save 262.80 USD a month"
    );
    // The remote side pays nothing; the operator sees the owner's total and theirs together.
    let theirs = s.usage(&f.remote, q.clone()).await.expect("remote");
    assert!(theirs.lines.is_empty() && theirs.total == 0.0);
    let summary = s
        .account_usage(&f.operator, q.clone())
        .await
        .expect("summary");
    assert_eq!(summary.total, 268.06);
    assert!(s.account_usage(&f.owner, q.clone()).await.is_err());
    assert!(matches!(
        s.usage(
            &f.owner,
            UsageQuery {
                account_id: Some(f.remote.account.to_string()),
                ..q.clone()
            }
        )
        .await,
        Err(ServiceError::AccessDenied(_))
    ));

    // A restart: a new service over the same database gives the same statement.
    let store = std::sync::Arc::new(f.db.open());
    let again = crate::Service::new(
        store,
        catalog(),
        crate::Secrets::from_master(&[9; 32]),
        crate::test_fixture::config(),
        f.clock.clone(),
    )
    .await
    .expect("service again");
    assert_eq!(again.usage(&f.owner, q).await.expect("statement again"), st);

    // The what-if, at today's prices: 1 Gbps with 1,000 GB a month against one VPN connection.
    let cmp = s
        .compare_cost(&xc_types::api::usage::CostCompareQuery {
            environment_id: "gcp-us-west1".into(),
            bandwidth: "1Gbps".into(),
            gb_per_month: 1000.0,
        })
        .expect("compare");
    assert_eq!(
        (
            cmp.interconnect.fixed,
            cmp.interconnect.per_gb,
            cmp.interconnect.total
        ),
        (182.5, 10.0, 192.5)
    );
    let vpn = cmp.vpn.expect("vpn");
    assert_eq!((vpn.fixed, vpn.per_gb, vpn.total), (36.5, 90.0, 126.5));
    assert_eq!(cmp.vpn_connections, Some(1));
    assert_eq!(cmp.break_even_gb_vs_vpn, Some(1825.0));
}

/// Writes a point of a connection's history as the service would: from `at` on, `state` at
/// `mbps` (the store's triggers record the change at `at`).
async fn history(
    s: &crate::Service,
    id: &xc_types::ConnectionId,
    at: i64,
    state: xc_types::ConnectionState,
    mbps: u64,
) {
    let id = id.clone();
    s.store
        .write(move |db| {
            let mut c = db.get_connection(&id)?.expect("connection");
            c.state = state;
            c.bandwidth = xc_types::Bandwidth::from_mbps(mbps);
            c.updated_at = at;
            db.update_connection(&c)?;
            Ok::<_, ServiceError>(())
        })
        .await
        .expect("history");
}

/// Maintenance windows: only the operator announces them, in the future, at most 7 days long;
/// one that has begun cannot be withdrawn; a window announced a day or more ahead is left out of
/// the SLA (its down minutes and its billable minutes), one announced an hour ahead is not.
#[tokio::test]
async fn maintenance_announced_ahead_is_left_out_of_the_sla() {
    use std::sync::atomic::Ordering;
    use xc_types::ConnectionState::{Available, Down};
    use xc_types::api::maintenance::CreateMaintenanceRequest;
    use xc_types::api::usage::UsageQuery;

    const NOV: i64 = 1_793_491_200; // 2026-11-01T00:00:00Z
    const DAY: i64 = 86_400;
    let f = crate::test_fixture::fixture_at(NOV - 3 * DAY, crate::Catalog::default_catalog()).await;
    let s = &f.service;
    let id = f.connection.clone();
    let window = |start: &str, end: &str, environment: Option<&str>| CreateMaintenanceRequest {
        start: start.into(),
        end: end.into(),
        description: "line card swap in iad-eq-dc2".into(),
        environment_id: environment.map(str::to_owned),
    };
    let ahead = window(
        "2026-11-10T02:00:00Z",
        "2026-11-10T03:00:00Z",
        Some("gcp-us-west1"),
    );
    assert!(matches!(
        s.create_maintenance(&f.owner, ahead.clone()).await,
        Err(ServiceError::AccessDenied(_))
    ));
    let a = s
        .create_maintenance(&f.operator, ahead)
        .await
        .expect("announce");
    assert!(a.excluded_from_sla && a.id.starts_with("mw-"), "{a:?}");
    for (bad, field) in [
        (
            window("2026-10-01T00:00:00Z", "2026-10-01T01:00:00Z", None),
            "start",
        ),
        (
            window("2026-11-10T02:00:00Z", "2026-11-10T01:00:00Z", None),
            "end",
        ),
        (
            window("2026-11-10T02:00:00Z", "2026-11-18T02:00:00Z", None),
            "end",
        ),
        (window("10 Nov", "2026-11-10T03:00:00Z", None), "start"),
    ] {
        match s.create_maintenance(&f.operator, bad).await {
            Err(ServiceError::Validation { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(matches!(
        s.create_maintenance(
            &f.operator,
            window(
                "2026-11-10T02:00:00Z",
                "2026-11-10T03:00:00Z",
                Some("nowhere")
            )
        )
        .await,
        Err(ServiceError::NotFound { .. })
    ));

    history(s, &id, NOV, Available, 1000).await;
    // Down 30 minutes inside the window, and 10 minutes on the 20th.
    history(s, &id, NOV + 9 * DAY + 2 * 3600, Down, 1000).await;
    history(s, &id, NOV + 9 * DAY + 2 * 3600 + 1800, Available, 1000).await;
    history(s, &id, NOV + 19 * DAY + 5 * 3600, Down, 1000).await;
    history(s, &id, NOV + 19 * DAY + 5 * 3600 + 600, Available, 1000).await;
    // The 20th at 03:00: a window from 04:00 announced an hour ahead (not left out); the
    // first one has begun and ended, and stays.
    f.clock.0.store(NOV + 19 * DAY + 3 * 3600, Ordering::SeqCst);
    let late = s
        .create_maintenance(
            &f.operator,
            window("2026-11-20T04:00:00Z", "2026-11-20T06:00:00Z", None),
        )
        .await
        .expect("late");
    assert!(!late.excluded_from_sla);
    assert!(matches!(
        s.delete_maintenance(&f.operator, &a.id).await,
        Err(ServiceError::Conflict(_))
    ));
    let listed = s.list_maintenance(&f.owner).await.expect("list");
    assert_eq!(listed.windows, vec![late.clone()]);

    f.clock.0.store(NOV + 30 * DAY + 900, Ordering::SeqCst);
    s.meter().await.expect("meter");
    let st = s
        .usage(
            &f.owner,
            UsageQuery {
                month: Some("2026-11".into()),
                account_id: None,
            },
        )
        .await
        .expect("statement");
    // 43,200 billable minutes less the window's 60; 10 down outside it: 99.976820%.
    assert_eq!(st.credits.len(), 1);
    let c = &st.credits[0];
    assert_eq!(
        (c.excluded_minutes, c.availability_percent, c.credit_percent),
        (60.0, 99.97682, 10.0)
    );
    // Both outages are listed; only the one outside the window counted.
    assert_eq!(c.outages.len(), 2);
}

/// The answer to a report gives the gateway's links their parts of the connection's bandwidth:
/// with two gateways a side (four links), a link that its part holds back gets what the other
/// links of its side do not send, and the others a floor; each gateway's configuration says
/// how many links share the bandwidth.
#[tokio::test]
async fn a_report_is_answered_with_the_links_parts_of_the_bandwidth() {
    use crate::test_fixture::register;
    use xc_types::gateway::{GatewayStatus, LinkDemand, LinkStatus};

    let f = fixture().await;
    let s = &f.service;
    let key = f.connection.clone();
    let c = s
        .store
        .read(move |db| Ok::<_, ServiceError>(db.get_connection(&key)?))
        .await
        .expect("read")
        .expect("connection");
    let ap_a = s
        .get_attach_point(&f.owner, &c.owner_attach_point.to_string())
        .await
        .expect("ap a");
    let ap_b = s
        .get_attach_point(
            &f.remote,
            &c.remote_attach_point.expect("accepted").to_string(),
        )
        .await
        .expect("ap b");
    let a2 = register(s, &f.owner, &ap_a, "gw-a2").await;
    register(s, &f.remote, &ap_b, "gw-b2").await;
    let links = f.planned_links().await;
    assert_eq!(links.len(), 4, "two gateways a side");
    let gw_a = f.gateways.0.clone();
    let mine: Vec<_> = links.iter().filter(|l| l.gateway_a == gw_a).collect();
    assert_eq!(mine.len(), 2);
    let (_, doc) = s.gateway_config(&gw_a).await.expect("config");
    assert!(
        doc.link
            .iter()
            .all(|l| l.bandwidth.as_deref() == Some("1Gbps") && l.bandwidth_shared_by == Some(4)),
        "{:?}",
        doc.link
    );

    // gw-a: its first link is held back at a quarter, its second sends nothing; gw-a2 has not
    // reported (its links count as sending nothing, at the floor).
    let status = GatewayStatus {
        name: "gw-a".into(),
        links: mine
            .iter()
            .enumerate()
            .map(|(i, l)| LinkStatus {
                name: l.name(),
                id: Some(l.id),
                egress_bps: Some(250_000_000),
                demand: Some(LinkDemand {
                    bps: if i == 0 { 240_000_000 } else { 0 },
                    limited: i == 0,
                }),
                ..LinkStatus::default()
            })
            .collect(),
        ..GatewayStatus::default()
    };
    let ack = s
        .gateway_report(&gw_a, "test".into(), status, 1, Vec::new(), Vec::new())
        .await
        .expect("report");
    let part = |id: u64| ack.egress.iter().find(|p| p.link == id).map(|p| p.bps);
    assert_eq!(
        ack.egress.len(),
        2,
        "this gateway's links only: {:?}",
        ack.egress
    );
    assert_eq!(part(mine[0].id), Some(1_000_000_000));
    // (It sends nothing: its part shrinks by a quarter, toward the floor of 62.5.)
    assert_eq!(part(mine[1].id), Some(187_500_000));
    // gw-a2 is answered for its own links from gw-a's report: the floor each.
    let ack = s
        .gateway_report(
            &a2,
            "test".into(),
            GatewayStatus::default(),
            1,
            Vec::new(),
            Vec::new(),
        )
        .await
        .expect("report");
    assert_eq!(ack.egress.len(), 2);
    assert!(
        ack.egress.iter().all(|p| p.bps == 62_500_000),
        "{:?}",
        ack.egress
    );
}

/// A link's `link.stateChange` events: going down and coming up, and on an up link a warning
/// coming and going (with the code before it); a down link whose reason changes makes none.
#[tokio::test]
async fn an_up_links_warning_coming_and_going_is_an_event() {
    use xc_types::StateReasonCode;
    use xc_types::api::events::{EventType, EventsQuery};
    use xc_types::gateway::LinkState;

    let f = fixture().await;
    let s = &f.service;
    let link = f.planned_links().await[0].id;
    let steps = [
        (LinkState::Up, None),
        (LinkState::Up, Some(StateReasonCode::PathMtuReduced)),
        (LinkState::Up, None),
        (LinkState::Down, Some(StateReasonCode::GatewayUnreachable)),
        (LinkState::Down, Some(StateReasonCode::BgpNotEstablished)),
        (LinkState::Up, None),
    ];
    for (i, (state, code)) in steps.into_iter().enumerate() {
        let reason = code.map(|c| c.with("a test"));
        s.store
            .write(move |db| {
                db.set_link_state(link, state, reason.as_ref(), 1_800_000_100 + i as i64)?;
                Ok::<_, ServiceError>(())
            })
            .await
            .expect("record");
    }
    let events = s
        .list_events(
            &f.owner,
            EventsQuery {
                since: Some("2020-01-01T00:00:00Z".into()),
                ..Default::default()
            },
        )
        .await
        .expect("events");
    let seen: Vec<(String, String, Option<String>, Option<String>)> = events
        .events
        .iter()
        .filter(|e| e.kind == EventType::LinkStateChange && e.detail["linkId"] == link)
        .map(|e| {
            let text = |k: &str| e.detail[k].as_str().map(str::to_owned);
            (
                text("previousState").unwrap_or_default(),
                text("state").unwrap_or_default(),
                text("previousReasonCode"),
                text("reasonCode"),
            )
        })
        .collect();
    let s = |x: &str| x.to_owned();
    let o = |x: &str| Some(x.to_owned());
    assert_eq!(
        seen,
        [
            (s("up"), s("up"), None, o("PATH_MTU_REDUCED")),
            (s("up"), s("up"), o("PATH_MTU_REDUCED"), None),
            (s("up"), s("down"), None, o("GATEWAY_UNREACHABLE")),
            (s("down"), s("up"), o("BGP_NOT_ESTABLISHED"), None),
        ]
    );
}

/// A prefix list update that changes nothing (no field, or the same values) writes nothing: its
/// `updatedAt` stays and no `filter.change` event is recorded; a real change does both.
#[tokio::test]
async fn a_prefix_list_update_that_changes_nothing_writes_nothing() {
    use crate::service::dryrun::Change;
    use xc_types::api::events::{EventType, EventsQuery};
    use xc_types::api::filters::{CreatePrefixListRequest, UpdatePrefixListRequest};

    let f = fixture().await;
    let s = &f.service;
    let at = |t: i64| f.clock.0.store(t, std::sync::atomic::Ordering::SeqCst);
    let list = s
        .create_prefix_list(
            &f.owner,
            CreatePrefixListRequest {
                name: "nets".into(),
                prefixes: vec!["10.9.0.0/24".into()],
            },
        )
        .await
        .expect("create");
    let changes = || async {
        s.list_events(
            &f.owner,
            EventsQuery {
                since: Some("2020-01-01T00:00:00Z".into()),
                ..Default::default()
            },
        )
        .await
        .expect("events")
        .events
        .iter()
        .filter(|e| e.kind == EventType::FilterChange)
        .count()
    };
    let before = changes().await;
    let id = list.prefix_list_id.to_string();
    at(1_800_000_600);
    for req in [
        UpdatePrefixListRequest::default(),
        UpdatePrefixListRequest {
            name: Some("nets".into()),
            prefixes: Some(vec!["10.9.0.0/24".into()]),
        },
    ] {
        let same = s
            .update_prefix_list(&f.owner, &id, req, Change::Apply)
            .await
            .expect("update");
        assert_eq!(same.updated_at, list.updated_at);
    }
    assert_eq!(changes().await, before, "no event for nothing");
    let changed = s
        .update_prefix_list(
            &f.owner,
            &id,
            UpdatePrefixListRequest {
                prefixes: Some(vec!["10.9.1.0/24".into()]),
                ..Default::default()
            },
            Change::Apply,
        )
        .await
        .expect("update");
    assert_ne!(changed.updated_at, list.updated_at);
    assert_eq!(changes().await, before + 1);
}

/// The links' liveness is the default until the owner changes it; a change reaches both sides'
/// gateways; only the owner may make it, within bounds, and a refused change changes nothing.
#[tokio::test]
async fn the_owner_sets_the_links_liveness_and_both_sides_gateways_take_it() {
    use xc_types::LinkLiveness;
    use xc_types::api::UpdateConnectionRequest;

    let f = fixture().await;
    let s = &f.service;
    let id = f.connection.as_str();
    assert!(!f.planned_links().await.is_empty());
    let liveness_of = |gw: String| async move {
        let (_, doc) = s.gateway_config(&gw).await.expect("config");
        assert!(!doc.link.is_empty(), "{gw} has links");
        let all: Vec<_> = doc
            .link
            .iter()
            .map(|l| (l.liveness_interval_ms, l.liveness_multiplier))
            .collect();
        assert!(all.windows(2).all(|w| w[0] == w[1]), "{all:?}");
        all[0]
    };
    let view = s.get_connection(&f.owner, id).await.expect("get");
    assert_eq!(view.connection.link_liveness, None);
    for gw in [f.gateways.0.clone(), f.gateways.1.clone()] {
        assert_eq!(liveness_of(gw).await, (Some(10), Some(3)), "the default");
    }
    let set = |who: crate::Caller, l: LinkLiveness| async move {
        s.update_connection(
            &who,
            id,
            UpdateConnectionRequest {
                link_liveness: Some(l),
                ..Default::default()
            },
        )
        .await
    };
    let theirs = set(
        f.remote.clone(),
        LinkLiveness {
            interval_ms: 50,
            multiplier: 3,
        },
    )
    .await;
    assert!(
        matches!(&theirs, Err(ServiceError::AccessDenied(m)) if m.contains("link liveness")),
        "{theirs:?}"
    );
    for (bad, says) in [
        ((20_000, 3), "intervalMs"),
        ((10, 1), "multiplier"),
        ((10, 101), "multiplier"),
    ] {
        let r = set(
            f.owner.clone(),
            LinkLiveness {
                interval_ms: bad.0,
                multiplier: bad.1,
            },
        )
        .await;
        assert!(
            matches!(&r, Err(ServiceError::Validation { field, message }) if field == "linkLiveness" && message.contains(says)),
            "{bad:?}: {r:?}"
        );
    }
    assert_eq!(
        liveness_of(f.gateways.1.clone()).await,
        (Some(10), Some(3)),
        "unchanged"
    );

    let slower = LinkLiveness {
        interval_ms: 25,
        multiplier: 4,
    };
    let d = set(f.owner.clone(), slower).await.expect("owner's change");
    assert_eq!(d.connection.link_liveness, Some(slower));
    let seen = s.get_connection(&f.remote, id).await.expect("get");
    assert_eq!(seen.connection.link_liveness, Some(slower), "stored");
    for gw in [f.gateways.0.clone(), f.gateways.1.clone()] {
        assert_eq!(liveness_of(gw).await, (Some(25), Some(4)));
    }
    set(f.owner.clone(), LinkLiveness::OFF).await.expect("off");
    for gw in [f.gateways.0.clone(), f.gateways.1.clone()] {
        assert_eq!(liveness_of(gw).await, (None, None), "off: left out");
    }
}

/// A gateway's blocking query notes when it was heard from: gathered, then written for every
/// gateway heard meanwhile in one transaction (not one write per query), latest time kept.
#[tokio::test]
async fn gateways_heard_from_are_noted_together() {
    use std::sync::atomic::Ordering;
    let f = fixture().await;
    let (ga, gb) = f.gateways.clone();
    let t0 = f.clock.0.load(Ordering::SeqCst);
    f.clock.0.store(t0 + 100, Ordering::SeqCst);
    f.service.touch_gateway(&ga);
    f.clock.0.store(t0 + 101, Ordering::SeqCst);
    f.service.touch_gateway(&gb);
    f.service.touch_gateway(&ga);
    let contact = |id: String| {
        let store = f.service.store.clone();
        async move {
            store
                .read(move |db| {
                    Ok::<_, ServiceError>(db.get_gateway(&id)?.and_then(|g| g.last_contact))
                })
                .await
                .expect("read")
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while (contact(ga.clone()).await, contact(gb.clone()).await) != (Some(t0 + 101), Some(t0 + 101))
    {
        assert!(std::time::Instant::now() < deadline, "never noted");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(f.service.touches.lock().expect("touches").is_empty());
}
