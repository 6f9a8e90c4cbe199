//! Which gateways' blocking queries a change wakes.
//!
//! A gateway holds its configuration query open until its configuration changes. Waking every
//! query for every change costs one configuration read per gateway per change: with 5,000
//! gateways and a reconciler that writes a plan each second, that is what kept a prefix change
//! from reaching its 9 gateways within seconds in `bench/scale`. So a change says whom it
//! concerns ([`Scope`]), and a woken query reads its configuration again only if it is concerned.
//!
//! One epoch counts changes; each gateway named by a change keeps the epoch of the last change
//! that named it, and a change to everyone keeps its own. A query notes the epoch before it reads
//! its configuration, and after a wake reads again only if a change concerning it (or everyone)
//! came later. Changes are never lost, only coalesced: a query woken late by several changes
//! reads once.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use tokio::sync::watch;

/// The most gateways one change names; a change to more is a change to everyone (which costs
/// the same reads, and keeps a signal between replicas within PostgreSQL's 8,000-byte payload).
pub(crate) const MAX_NAMED: usize = 256;

/// Whom a change concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every gateway (a change whose reach is not worked out: a registration, a filter).
    Everyone,
    /// These gateways, by id.
    Gateways(BTreeSet<String>),
}

impl Scope {
    /// The gateways named, or everyone when they are too many to name.
    pub(crate) fn gateways(ids: impl IntoIterator<Item = String>) -> Self {
        let ids: BTreeSet<String> = ids.into_iter().collect();
        if ids.len() > MAX_NAMED {
            Scope::Everyone
        } else {
            Scope::Gateways(ids)
        }
    }

    /// Whether nobody is concerned.
    pub(crate) fn is_nobody(&self) -> bool {
        matches!(self, Scope::Gateways(ids) if ids.is_empty())
    }
}

#[derive(Debug, Default)]
struct Marks {
    /// The epoch of the last change to everyone.
    everyone: u64,
    /// The epoch of the last change naming each gateway, if later than `everyone`.
    gateways: HashMap<String, u64>,
}

/// The changes gateways' blocking queries wait for.
#[derive(Debug)]
pub(crate) struct ConfigWakes {
    epoch: watch::Sender<u64>,
    marks: Mutex<Marks>,
}

impl Default for ConfigWakes {
    fn default() -> Self {
        ConfigWakes {
            epoch: watch::Sender::new(0),
            marks: Mutex::default(),
        }
    }
}

impl ConfigWakes {
    /// Records a change and wakes the waiting queries (those it does not concern go back to
    /// waiting without reading anything).
    pub(crate) fn changed(&self, scope: &Scope) {
        if scope.is_nobody() {
            return;
        }
        let Ok(mut marks) = self.marks.lock() else {
            return;
        };
        // Marked under the lock, then published: a query that sees the new epoch sees its mark.
        let epoch = *self.epoch.borrow() + 1;
        match scope {
            Scope::Everyone => {
                marks.everyone = epoch;
                // Every earlier mark is older than this one: forget them (this keeps the map's
                // size to the gateways named since the last change to everyone).
                marks.gateways.clear();
            }
            Scope::Gateways(ids) => {
                for id in ids {
                    marks.gateways.insert(id.clone(), epoch);
                }
            }
        }
        self.epoch.send_replace(epoch);
    }

    /// A waiter for one gateway's query.
    pub(crate) fn waiter(&self) -> Waiter<'_> {
        let mut rx = self.epoch.subscribe();
        let seen = *rx.borrow_and_update();
        Waiter {
            wakes: self,
            rx,
            seen,
        }
    }

    fn concerns(&self, gateway: &str, since: u64) -> bool {
        let Ok(marks) = self.marks.lock() else {
            return true;
        };
        marks.everyone > since || marks.gateways.get(gateway).is_some_and(|e| *e > since)
    }
}

/// One blocking query's view of the changes: [`Waiter::read`] before each read of the
/// configuration, [`Waiter::wait`] between reads.
#[derive(Debug)]
pub struct Waiter<'a> {
    wakes: &'a ConfigWakes,
    rx: watch::Receiver<u64>,
    /// The epoch noted before the last read.
    seen: u64,
}

impl Waiter<'_> {
    /// Notes that the configuration is about to be read: changes up to now are in what it reads.
    pub fn read(&mut self) {
        self.seen = *self.rx.borrow_and_update();
    }

    /// Waits for a change that concerns `gateway` since the last [`Waiter::read`]. Returns at
    /// once if one came already.
    pub async fn wait(&mut self, gateway: &str) {
        loop {
            if self.wakes.concerns(gateway, self.seen) {
                return;
            }
            if self.rx.changed().await.is_err() {
                // The service is gone: nothing will change any more.
                return std::future::pending().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn named(ids: &[&str]) -> Scope {
        Scope::gateways(ids.iter().map(|s| s.to_string()))
    }

    async fn woken(w: &mut Waiter<'_>, gateway: &str) -> bool {
        tokio::time::timeout(Duration::from_millis(50), w.wait(gateway))
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_change_wakes_the_gateways_it_names_and_everyone_wakes_all() {
        let wakes = ConfigWakes::default();
        let (mut a, mut b) = (wakes.waiter(), wakes.waiter());
        assert!(!woken(&mut a, "gw-a").await, "nothing changed yet");
        wakes.changed(&named(&["gw-a"]));
        assert!(woken(&mut a, "gw-a").await);
        assert!(
            !woken(&mut b, "gw-b").await,
            "a change naming gw-a leaves gw-b asleep"
        );
        // Until it reads again, gw-a stays woken; after, it waits for the next change.
        assert!(woken(&mut a, "gw-a").await);
        a.read();
        assert!(!woken(&mut a, "gw-a").await);
        wakes.changed(&Scope::Everyone);
        assert!(woken(&mut a, "gw-a").await);
        assert!(woken(&mut b, "gw-b").await);
    }

    #[tokio::test]
    async fn a_change_between_the_note_and_the_wait_is_not_lost() {
        let wakes = ConfigWakes::default();
        let (mut a, mut c) = (wakes.waiter(), wakes.waiter());
        a.read();
        // The change lands while the configuration is being read.
        wakes.changed(&named(&["gw-a", "gw-c"]));
        assert!(woken(&mut a, "gw-a").await);
        // A change to everyone forgets older names, without losing what they said.
        wakes.changed(&Scope::Everyone);
        wakes.changed(&named(&["gw-b"]));
        assert!(woken(&mut c, "gw-c").await);
    }

    #[test]
    fn too_many_gateways_are_everyone_and_none_is_nobody() {
        let many = (0..=MAX_NAMED).map(|i| format!("gw-{i}"));
        assert_eq!(Scope::gateways(many), Scope::Everyone);
        assert!(Scope::gateways(Vec::new()).is_nobody());
        let wakes = ConfigWakes::default();
        wakes.changed(&Scope::gateways(Vec::new()));
        assert_eq!(*wakes.epoch.borrow(), 0, "a change to nobody wakes nobody");
    }
}
