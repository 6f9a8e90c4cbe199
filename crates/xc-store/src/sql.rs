//! The few database operations the typed queries use, over one backend's connection.
//!
//! The typed queries ([`crate::Db`]) are written once, in the SQL that SQLite and PostgreSQL
//! share, against this module: [`Conn`] runs a statement, [`Row`] reads a column, [`Params`] and
//! [`params!`](crate::params) bind values. Values cross it in SQLite's five storage classes
//! ([`ValueRef`]): integers as `i64`, so a column's type is the same whatever the backend, and
//! each Rust type converts to and from those classes in one place ([`ToValue`], [`FromValue`])
//! with its range checked, never truncated.
//!
//! Statements are cached per connection; a query is prepared once and bound many times.

use std::fmt;

/// A failure to run a statement or to read its answer.
#[derive(Debug)]
pub enum Error {
    Sqlite(rusqlite::Error),
    Postgres(Box<PgError>),
    /// `query_row` found no row (`.optional()` turns this into `None`).
    NoRow,
    /// A column or parameter holds a value its Rust type cannot: the wrong storage class, or a
    /// number out of the type's range.
    Value {
        index: usize,
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(e) => write!(f, "{e}"),
            Self::Postgres(e) => write!(f, "{e}"),
            Self::NoRow => f.write_str("the query returned no row"),
            Self::Value { index, message } => write!(f, "value {index}: {message}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => Self::NoRow,
            e => Self::Sqlite(e),
        }
    }
}

impl Error {
    /// Whether a uniqueness (or other) constraint refused the statement.
    pub(crate) fn is_constraint(&self) -> bool {
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.code == rusqlite::ErrorCode::ConstraintViolation
            }
            // Class 23: integrity constraint violation.
            Self::Postgres(e) => e.error.code().is_some_and(|c| c.code().starts_with("23")),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `query_row`'s "no row" as `None`.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRow) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A value in one of SQLite's storage classes, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'v> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'v str),
    Blob(&'v [u8]),
}

impl ValueRef<'_> {
    fn class(&self) -> &'static str {
        match self {
            Self::Null => "NULL",
            Self::Integer(_) => "an integer",
            Self::Real(_) => "a real",
            Self::Text(_) => "text",
            Self::Blob(_) => "a blob",
        }
    }
}

/// A Rust value bound as a statement parameter.
pub trait ToValue: Sync {
    fn to_value(&self) -> Result<ValueRef<'_>, String>;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Result<ValueRef<'_>, String> {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Result<ValueRef<'_>, String> {
        match self {
            Some(v) => v.to_value(),
            None => Ok(ValueRef::Null),
        }
    }
}

impl ToValue for str {
    fn to_value(&self) -> Result<ValueRef<'_>, String> {
        Ok(ValueRef::Text(self))
    }
}

impl ToValue for String {
    fn to_value(&self) -> Result<ValueRef<'_>, String> {
        Ok(ValueRef::Text(self))
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Result<ValueRef<'_>, String> {
        Ok(ValueRef::Blob(self))
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Result<ValueRef<'_>, String> {
        Ok(ValueRef::Blob(self))
    }
}

impl<const N: usize> ToValue for [u8; N] {
    fn to_value(&self) -> Result<ValueRef<'_>, String> {
        Ok(ValueRef::Blob(self))
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Result<ValueRef<'_>, String> {
        Ok(ValueRef::Integer(i64::from(*self)))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Result<ValueRef<'_>, String> {
        Ok(ValueRef::Real(*self))
    }
}

macro_rules! integer_values {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Result<ValueRef<'_>, String> {
                i64::try_from(*self)
                    .map(ValueRef::Integer)
                    .map_err(|_| format!("{} does not fit a 64-bit signed integer", self))
            }
        }

        impl FromValue for $t {
            fn from_value(v: ValueRef<'_>) -> Result<Self, String> {
                match v {
                    ValueRef::Integer(i) => <$t>::try_from(i)
                        .map_err(|_| format!("{i} is out of range for {}", stringify!($t))),
                    other => Err(format!("expected an integer, found {}", other.class())),
                }
            }
        }
    )*};
}

integer_values!(i64, i32, i16, u64, u32, u16, u8, usize);

/// A Rust value read from a column.
pub trait FromValue: Sized {
    fn from_value(v: ValueRef<'_>) -> Result<Self, String>;
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: ValueRef<'_>) -> Result<Self, String> {
        match v {
            ValueRef::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl FromValue for String {
    fn from_value(v: ValueRef<'_>) -> Result<Self, String> {
        match v {
            ValueRef::Text(s) => Ok(s.to_owned()),
            other => Err(format!("expected text, found {}", other.class())),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: ValueRef<'_>) -> Result<Self, String> {
        match v {
            ValueRef::Blob(b) => Ok(b.to_vec()),
            other => Err(format!("expected a blob, found {}", other.class())),
        }
    }
}

impl FromValue for bool {
    fn from_value(v: ValueRef<'_>) -> Result<Self, String> {
        match v {
            ValueRef::Integer(i) => Ok(i != 0),
            other => Err(format!("expected an integer, found {}", other.class())),
        }
    }
}

impl FromValue for f64 {
    fn from_value(v: ValueRef<'_>) -> Result<Self, String> {
        match v {
            ValueRef::Real(r) => Ok(r),
            // An integer-valued average or sum comes back as an integer.
            ValueRef::Integer(i) => Ok(i as f64),
            other => Err(format!("expected a number, found {}", other.class())),
        }
    }
}

/// A statement's parameters: `()`, an array of one type, or [`params!`](crate::params).
pub trait Params {
    fn values(&self) -> Vec<&dyn ToValue>;
}

impl Params for () {
    fn values(&self) -> Vec<&dyn ToValue> {
        Vec::new()
    }
}

impl Params for &[&dyn ToValue] {
    fn values(&self) -> Vec<&dyn ToValue> {
        self.to_vec()
    }
}

impl<T: ToValue, const N: usize> Params for [T; N] {
    fn values(&self) -> Vec<&dyn ToValue> {
        self.iter().map(|v| v as &dyn ToValue).collect()
    }
}

/// Parameters of mixed types: `params![id.as_str(), n, blob]`.
#[macro_export]
#[doc(hidden)]
macro_rules! params {
    () => { () };
    ($($v:expr),+ $(,)?) => {
        &[$(&$v as &dyn $crate::sql::ToValue),+] as &[&dyn $crate::sql::ToValue]
    };
}

pub(crate) use crate::params;

/// One parameter, as SQLite binds it.
struct Lite<'p>(&'p dyn ToValue, usize);

impl rusqlite::ToSql for Lite<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef as V};
        let v = self.0.to_value().map_err(|message| {
            rusqlite::Error::ToSqlConversionFailure(Box::new(Error::Value {
                index: self.1,
                message,
            }))
        })?;
        Ok(ToSqlOutput::Borrowed(match v {
            ValueRef::Null => V::Null,
            ValueRef::Integer(i) => V::Integer(i),
            ValueRef::Real(r) => V::Real(r),
            ValueRef::Text(s) => V::Text(s.as_bytes()),
            ValueRef::Blob(b) => V::Blob(b),
        }))
    }
}

fn lite_params(p: &impl Params) -> Vec<Lite<'_>> {
    p.values()
        .into_iter()
        .enumerate()
        .map(|(i, v)| Lite(v, i + 1))
        .collect()
}

fn lite_bind<'a, 'p>(
    p: &'a [Lite<'p>],
) -> rusqlite::ParamsFromIter<std::slice::Iter<'a, Lite<'p>>> {
    rusqlite::params_from_iter(p.iter())
}

/// A connection: a read connection or the writer's open transaction, on either backend.
#[derive(Clone, Copy)]
pub struct Conn<'a> {
    inner: Inner<'a>,
}

#[derive(Clone, Copy)]
enum Inner<'a> {
    Lite(&'a rusqlite::Connection),
    Pg(&'a std::cell::RefCell<PgSession>),
}

impl fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.inner {
            Inner::Lite(_) => "Conn(sqlite)",
            Inner::Pg(_) => "Conn(postgres)",
        })
    }
}

/// Which SQL a backend speaks, for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl<'a> Conn<'a> {
    pub(crate) fn sqlite(lite: &'a rusqlite::Connection) -> Self {
        Self {
            inner: Inner::Lite(lite),
        }
    }

    pub(crate) fn postgres(pg: &'a std::cell::RefCell<PgSession>) -> Self {
        Self {
            inner: Inner::Pg(pg),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.inner {
            Inner::Lite(_) => Dialect::Sqlite,
            Inner::Pg(_) => Dialect::Postgres,
        }
    }

    /// The SQLite connection underneath, for the store's own tests.
    #[cfg(test)]
    pub(crate) fn as_sqlite(&self) -> &'a rusqlite::Connection {
        match self.inner {
            Inner::Lite(c) => c,
            Inner::Pg(_) => panic!("not a SQLite connection"),
        }
    }

    /// Runs a statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, p: impl Params) -> Result<usize> {
        self.prepare_cached(sql)?.execute(p)
    }

    /// Runs statements without parameters, in order (transaction control).
    pub(crate) fn batch(&self, statements: &[&str]) -> Result<()> {
        match self.inner {
            Inner::Lite(c) => {
                for sql in statements {
                    c.prepare_cached(sql)?.execute([])?;
                }
                Ok(())
            }
            Inner::Pg(s) => {
                let mut s = s.borrow_mut();
                s.client()
                    .batch_execute(&statements.join(";"))
                    .map_err(|e| Error::pg(e, statements.first().copied().unwrap_or("")))
            }
        }
    }

    /// The first row's value, or [`Error::NoRow`].
    pub fn query_row<T>(
        &self,
        sql: &str,
        p: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.prepare_cached(sql)?.query_row(p, f)
    }

    pub fn prepare_cached(&self, sql: &str) -> Result<Stmt<'a>> {
        Ok(Stmt {
            inner: match self.inner {
                Inner::Lite(c) => StmtInner::Lite(c.prepare_cached(sql)?),
                Inner::Pg(s) => {
                    let statement = s.borrow_mut().prepare(sql)?;
                    StmtInner::Pg {
                        session: s,
                        statement,
                    }
                }
            },
        })
    }
}

/// A prepared statement, from the connection's cache.
#[allow(missing_debug_implementations)]
pub struct Stmt<'c> {
    inner: StmtInner<'c>,
}

enum StmtInner<'c> {
    Lite(rusqlite::CachedStatement<'c>),
    Pg {
        session: &'c std::cell::RefCell<PgSession>,
        statement: postgres::Statement,
    },
}

impl Stmt<'_> {
    pub fn execute(&mut self, p: impl Params) -> Result<usize> {
        match &mut self.inner {
            StmtInner::Lite(st) => {
                let p = lite_params(&p);
                Ok(st.execute(lite_bind(&p))?)
            }
            StmtInner::Pg { session, statement } => {
                let values = p.values();
                let p = pg_params(&values);
                let n = session
                    .borrow_mut()
                    .client()
                    .execute(statement, &pg_bind(&p))
                    .map_err(|e| Error::pg(e, ""))?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
        }
    }

    pub fn query_row<T>(
        &mut self,
        p: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut rows = self.query(p)?;
        match rows.next()? {
            Some(r) => f(&r),
            None => Err(Error::NoRow),
        }
    }

    /// Every row, each through `f`.
    pub fn query_map<T>(
        &mut self,
        p: impl Params,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let mut rows = self.query(p)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(f(&r));
        }
        Ok(out.into_iter())
    }

    /// The rows one at a time, for a walk that stops early.
    pub fn query(&mut self, p: impl Params) -> Result<Rows<'_>> {
        Ok(Rows {
            inner: match &mut self.inner {
                StmtInner::Lite(st) => {
                    let p = lite_params(&p);
                    RowsInner::Lite(st.query(lite_bind(&p))?)
                }
                StmtInner::Pg { session, statement } => {
                    let values = p.values();
                    let p = pg_params(&values);
                    let rows = session
                        .borrow_mut()
                        .client()
                        .query(statement, &pg_bind(&p))
                        .map_err(|e| Error::pg(e, ""))?;
                    RowsInner::Pg {
                        rows: rows.into_iter(),
                        current: None,
                    }
                }
            },
        })
    }
}

/// Rows read one at a time.
#[allow(missing_debug_implementations)]
pub struct Rows<'s> {
    inner: RowsInner<'s>,
}

enum RowsInner<'s> {
    Lite(rusqlite::Rows<'s>),
    Pg {
        rows: std::vec::IntoIter<postgres::Row>,
        current: Option<postgres::Row>,
    },
}

impl Rows<'_> {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        Ok(match &mut self.inner {
            RowsInner::Lite(rows) => rows.next()?.map(|r| Row {
                inner: RowInner::Lite(r),
            }),
            RowsInner::Pg { rows, current } => {
                *current = rows.next();
                current.as_ref().map(|r| Row {
                    inner: RowInner::Pg(r),
                })
            }
        })
    }
}

/// One row of an answer.
#[derive(Debug)]
pub struct Row<'r> {
    inner: RowInner<'r>,
}

#[derive(Debug)]
enum RowInner<'r> {
    Lite(&'r rusqlite::Row<'r>),
    Pg(&'r postgres::Row),
}

/// A column's position in a row.
pub trait ColumnIndex {
    fn index(self) -> usize;
}

impl ColumnIndex for usize {
    fn index(self) -> usize {
        self
    }
}

impl Row<'_> {
    pub fn get<I: ColumnIndex, T: FromValue>(&self, i: I) -> Result<T> {
        let index = i.index();
        let bad = |message: String| Error::Value { index, message };
        match self.inner {
            RowInner::Lite(row) => {
                use rusqlite::types::ValueRef as V;
                let v = match row.get_ref(index)? {
                    V::Null => ValueRef::Null,
                    V::Integer(i) => ValueRef::Integer(i),
                    V::Real(r) => ValueRef::Real(r),
                    V::Text(t) => ValueRef::Text(
                        std::str::from_utf8(t)
                            .map_err(|e| bad(format!("text is not UTF-8: {e}")))?,
                    ),
                    V::Blob(b) => ValueRef::Blob(b),
                };
                T::from_value(v).map_err(bad)
            }
            RowInner::Pg(row) => {
                let cell: PgCell<'_> = row.try_get(index).map_err(|e| bad(e.to_string()))?;
                T::from_value(cell.0).map_err(bad)
            }
        }
    }
}

// ---- PostgreSQL ----

/// One PostgreSQL connection and the statements prepared on it.
#[allow(missing_debug_implementations)]
pub struct PgSession {
    /// Always `Some` until dropped.
    client: Option<postgres::Client>,
    prepared: std::collections::HashMap<String, postgres::Statement>,
}

/// Most statements kept prepared on one connection; the cache is emptied past it.
const PG_STATEMENT_CACHE: usize = 512;

impl PgSession {
    pub(crate) fn new(client: postgres::Client) -> Self {
        Self {
            client: Some(client),
            prepared: std::collections::HashMap::new(),
        }
    }

    pub(crate) fn client(&mut self) -> &mut postgres::Client {
        self.client
            .as_mut()
            .expect("a session's client is there until it is dropped")
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(postgres::Client::is_closed)
    }

    fn prepare(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(st) = self.prepared.get(sql) {
            return Ok(st.clone());
        }
        let st = self
            .client()
            .prepare(&placeholders(sql))
            .map_err(|e| Error::pg(e, sql))?;
        if self.prepared.len() >= PG_STATEMENT_CACHE {
            self.prepared.clear();
        }
        self.prepared.insert(sql.to_owned(), st.clone());
        Ok(st)
    }
}

/// The client's own runtime closes the connection as it drops, which may not run on a thread
/// that drives async tasks: such a drop is handed to a thread of its own.
impl Drop for PgSession {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::Builder::new()
                .name("xc-store-close".into())
                .spawn(move || drop(client));
        }
    }
}

/// SQLite's numbered parameters (`?1`) as PostgreSQL's (`$1`); a bare `?` takes the next
/// number. Quoted text and identifiers are left as they are.
pub(crate) fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut next = 1usize;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (Some(_), c) => out.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (None, '?') => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                if digits.is_empty() {
                    digits = next.to_string();
                }
                // As SQLite numbers them: one more than the largest so far.
                next = next.max(digits.parse::<usize>().unwrap_or(next) + 1);
                out.push('$');
                out.push_str(&digits);
            }
            (None, c) => out.push(c),
        }
    }
    out
}

/// A PostgreSQL error, with the start of the statement it came from.
#[derive(Debug)]
pub struct PgError {
    pub(crate) error: postgres::Error,
    statement: String,
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error.as_db_error() {
            Some(db) => write!(f, "{} ({})", db.message(), db.code().code())?,
            None => {
                write!(f, "{}", self.error)?;
                // The client library says what failed, not why (a TLS handshake: which
                // certificate check): the causes say it.
                let mut cause = std::error::Error::source(&self.error);
                while let Some(c) = cause {
                    write!(f, ": {c}")?;
                    cause = c.source();
                }
            }
        }
        if !self.statement.is_empty() {
            write!(f, " in: {}", self.statement)?;
        }
        Ok(())
    }
}

impl PgError {
    /// Whether the server is gone (a closed connection, a network failure, a server shutting
    /// down) rather than refusing the statement.
    pub(crate) fn is_unreachable(&self) -> bool {
        use postgres::error::SqlState;
        if self.error.is_closed() {
            return true;
        }
        match self.error.code() {
            None => true,
            Some(c) => {
                *c == SqlState::ADMIN_SHUTDOWN
                    || *c == SqlState::CRASH_SHUTDOWN
                    || *c == SqlState::CANNOT_CONNECT_NOW
                    || c.code().starts_with("08")
            }
        }
    }
}

impl Error {
    pub(crate) fn pg(error: postgres::Error, sql: &str) -> Self {
        let statement: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        let statement = statement.chars().take(160).collect();
        Self::Postgres(Box::new(PgError { error, statement }))
    }
}

/// One parameter, as PostgreSQL binds it: encoded for the type the server expects there.
#[derive(Debug)]
pub(crate) struct PgParam<'p>(&'p dyn ToValue);

impl fmt::Debug for dyn ToValue + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ToValue")
    }
}

pub(crate) fn pg_params<'p>(values: &[&'p dyn ToValue]) -> Vec<PgParam<'p>> {
    values.iter().map(|v| PgParam(*v)).collect()
}

pub(crate) fn pg_bind<'a>(p: &'a [PgParam<'_>]) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
    p.iter()
        .map(|p| p as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

impl postgres::types::ToSql for PgParam<'_> {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use bytes::BufMut;
        use postgres::types::{IsNull, Type};
        let v = self.0.to_value()?;
        let wrong = |v: &ValueRef<'_>| -> Box<dyn std::error::Error + Sync + Send> {
            format!("cannot bind {} as {ty}", v.class()).into()
        };
        match (v, ty) {
            (ValueRef::Null, _) => return Ok(IsNull::Yes),
            (ValueRef::Integer(i), &Type::INT8) => out.put_i64(i),
            (ValueRef::Integer(i), &Type::INT4) => out.put_i32(i32::try_from(i)?),
            (ValueRef::Integer(i), &Type::INT2) => out.put_i16(i16::try_from(i)?),
            (ValueRef::Integer(i), &Type::BOOL) => out.put_u8(u8::from(i != 0)),
            (ValueRef::Integer(i), &Type::FLOAT8) => out.put_f64(i as f64),
            (ValueRef::Real(r), &Type::FLOAT8) => out.put_f64(r),
            (ValueRef::Real(r), &Type::FLOAT4) => out.put_f32(r as f32),
            (ValueRef::Text(s), &Type::TEXT | &Type::VARCHAR | &Type::BPCHAR | &Type::NAME)
            | (ValueRef::Text(s), &Type::JSON | &Type::UNKNOWN) => out.put_slice(s.as_bytes()),
            (ValueRef::Text(s), &Type::JSONB) => {
                out.put_u8(1);
                out.put_slice(s.as_bytes());
            }
            (ValueRef::Blob(b), &Type::BYTEA) => out.put_slice(b),
            (v, _) => return Err(wrong(&v)),
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A column's value as it came from PostgreSQL, in SQLite's storage classes.
struct PgCell<'a>(ValueRef<'a>);

impl<'a> postgres::types::FromSql<'a> for PgCell<'a> {
    fn from_sql(
        ty: &postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        let int = |n: usize| -> Result<i64, Box<dyn std::error::Error + Sync + Send>> {
            if raw.len() != n {
                return Err(format!("a {ty} of {} bytes", raw.len()).into());
            }
            let mut b = [0u8; 8];
            b[8 - n..].copy_from_slice(raw);
            // Sign-extend from the value's width.
            let shift = 64 - 8 * n as u32;
            Ok((i64::from_be_bytes(b) << shift) >> shift)
        };
        Ok(PgCell(match *ty {
            Type::INT8 => ValueRef::Integer(int(8)?),
            Type::INT4 => ValueRef::Integer(int(4)?),
            Type::INT2 => ValueRef::Integer(int(2)?),
            Type::BOOL => ValueRef::Integer(i64::from(raw.first().copied().unwrap_or(0) != 0)),
            Type::FLOAT8 => ValueRef::Real(f64::from_bits(int(8)? as u64)),
            Type::FLOAT4 => ValueRef::Real(f64::from(f32::from_bits(int(4)? as u32))),
            Type::NUMERIC => numeric(raw)?,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON => {
                ValueRef::Text(std::str::from_utf8(raw)?)
            }
            Type::JSONB => ValueRef::Text(std::str::from_utf8(raw.get(1..).unwrap_or(&[]))?),
            Type::BYTEA => ValueRef::Blob(raw),
            ref other => return Err(format!("unexpected column type {other}").into()),
        }))
    }

    fn from_sql_null(
        _: &postgres::types::Type,
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgCell(ValueRef::Null))
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
}

/// A NUMERIC (what PostgreSQL's `sum` and `avg` of integers give) as an integer when it is
/// whole and fits, else as a real. Binary form: digit count, weight, sign, scale, then base-10000
/// digits, most significant first.
fn numeric(raw: &[u8]) -> Result<ValueRef<'static>, Box<dyn std::error::Error + Sync + Send>> {
    let word = |i: usize| -> Result<i16, Box<dyn std::error::Error + Sync + Send>> {
        raw.get(2 * i..2 * i + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "a truncated numeric".into())
    };
    let (ndigits, weight, sign) = (word(0)?, word(1)?, word(2)? as u16);
    if sign == 0xC000 {
        return Ok(ValueRef::Real(f64::NAN));
    }
    let mut whole: i128 = 0;
    let mut value = 0f64;
    let mut fractional = false;
    for d in 0..ndigits.max(0) as usize {
        let digit = word(4 + d)?;
        let power = i32::from(weight) - d as i32;
        value += f64::from(digit) * 10_000f64.powi(power);
        if power >= 0 {
            whole = whole
                .checked_mul(10_000)
                .and_then(|w| w.checked_add(i128::from(digit)))
                .ok_or("a numeric too large")?;
        } else if digit != 0 {
            fractional = true;
        }
    }
    // Whole digits below the last stored one are zeros.
    let trailing = i32::from(weight) - (i32::from(ndigits) - 1);
    for _ in 0..trailing.max(0) {
        whole = whole.checked_mul(10_000).ok_or("a numeric too large")?;
    }
    let negative = sign == 0x4000;
    if !fractional && let Ok(i) = i64::try_from(if negative { -whole } else { whole }) {
        return Ok(ValueRef::Integer(i));
    }
    Ok(ValueRef::Real(if negative { -value } else { value }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_and_bare_placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            placeholders("SELECT a FROM t WHERE b = ?2 AND c = ?1 AND d = '?3' AND \"e?\" = ?"),
            "SELECT a FROM t WHERE b = $2 AND c = $1 AND d = '?3' AND \"e?\" = $3"
        );
        assert_eq!(placeholders("VALUES (?, ?)"), "VALUES ($1, $2)");
    }

    #[test]
    fn numerics_decode_to_integers_when_whole() {
        // 12345678 = 1234 * 10000 + 5678: two digits, weight 1.
        let raw = [0, 2, 0, 1, 0, 0, 0, 0, 0x04, 0xD2, 0x16, 0x2E];
        assert_eq!(
            numeric(&raw).expect("numeric"),
            ValueRef::Integer(12_345_678)
        );
        // -20000: one digit (2), weight 1, negative.
        let raw = [0, 1, 0, 1, 0x40, 0, 0, 0, 0, 2];
        assert_eq!(numeric(&raw).expect("numeric"), ValueRef::Integer(-20_000));
        // 1.5: digits 1, 5000, weight 0, scale 1.
        let raw = [0, 2, 0, 0, 0, 0, 0, 1, 0, 1, 0x13, 0x88];
        assert_eq!(numeric(&raw).expect("numeric"), ValueRef::Real(1.5));
        // 0: no digits.
        assert_eq!(
            numeric(&[0, 0, 0, 0, 0, 0, 0, 0]).expect("zero"),
            ValueRef::Integer(0)
        );
        assert!(numeric(&[0, 3, 0, 0]).is_err());
    }
}
