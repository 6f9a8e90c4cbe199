//! Each account's stream of events: the page of `GET /v1/events` and what the live stream reads
//! (`xc_api`'s `GET /v1/events/stream`). The events are written by the store's triggers and by
//! the alarm evaluator.

use super::connections::fmt_time;
use super::{Caller, Service, page_limit};
use crate::{Result, ServiceError};
use xc_store::EventRecord;
use xc_types::ConnectionId;
use xc_types::api::events::{Event, EventList, EventType, EventsQuery};

/// How long events are kept.
pub(crate) const EVENT_RETENTION_SECS: i64 = 30 * 86_400;
/// The default span of a listing without `since`.
const DEFAULT_SPAN_SECS: i64 = 3_600;

fn event_of(r: EventRecord) -> Option<Event> {
    let Some(kind) = EventType::parse(&r.kind) else {
        tracing::warn!(event = r.seq, kind = %r.kind, "an event of an unknown type is left out");
        return None;
    };
    Some(Event {
        id: r.seq.max(0) as u64,
        time: fmt_time(r.at),
        account_id: r.account_id,
        kind,
        connection_id: r.connection_id.and_then(|c| ConnectionId::parse(&c).ok()),
        detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
    })
}

impl Service {
    /// The caller's events (every account's, for the operator) at `since` or later and after
    /// `after`, oldest first, a page at a time.
    pub async fn list_events(&self, caller: &Caller, q: EventsQuery) -> Result<EventList> {
        let since = match &q.since {
            Some(s) => super::parse_time("since", s)?,
            None => self.now() - DEFAULT_SPAN_SECS,
        };
        let after = i64::try_from(q.after.unwrap_or(0))
            .map_err(|_| ServiceError::validation("after", "is an event's id"))?;
        let limit = page_limit(q.max_results.map(|m| m as usize))?;
        let since_text = since.to_string();
        let after_text = after.to_string();
        let scope = ["events", caller.account.as_str(), &since_text, &after_text];
        let after = after.max(self.page_start(q.next_token.as_deref(), &scope)?);
        let account = (!caller.is_operator()).then(|| caller.account.clone());
        let mut rows = self
            .store
            .read(move |db| {
                Ok::<_, ServiceError>(db.events(account.as_ref(), after, since, limit + 1)?)
            })
            .await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_token = more
            .then(|| rows.last().map(|r| self.page_token(r.seq, &scope)))
            .flatten();
        Ok(EventList {
            events: rows.into_iter().filter_map(event_of).collect(),
            next_token,
        })
    }

    /// The id of the latest event of any account (0 without one): a stream from now starts
    /// after it.
    pub async fn latest_event_id(&self) -> Result<u64> {
        let seq = self
            .store
            .read(|db| Ok::<_, ServiceError>(db.latest_event_seq()?))
            .await?;
        Ok(seq.max(0) as u64)
    }

    /// The caller's events after `after` (an event's id) and at `since` or later, oldest first,
    /// at most 100: what the live stream sends next.
    pub async fn events_after(
        &self,
        caller: &Caller,
        after: u64,
        since: i64,
    ) -> Result<Vec<Event>> {
        let account = (!caller.is_operator()).then(|| caller.account.clone());
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows = self
            .store
            .read(move |db| {
                Ok::<_, ServiceError>(db.events(account.as_ref(), after, since, 100)?)
            })
            .await?;
        Ok(rows.into_iter().filter_map(event_of).collect())
    }
}
