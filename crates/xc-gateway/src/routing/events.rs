//! What reaches the speaker from its network tasks, one at a time, over one bounded channel.

use std::io;
use std::net::{IpAddr, SocketAddr};
use tokio::net::TcpStream;
use xc_bgp::peer::ConnId;

/// How many inputs wait for the speaker at most; the tasks that produce them wait for room (with
/// reads of at most 16 KiB, what a busy speaker has waiting stays under 4 MiB).
pub const INPUT_QUEUE: usize = 256;

pub enum Input {
    /// A connection to port 179, from this address.
    Accepted(TcpStream, SocketAddr),
    /// A connect attempt of a neighbour ended.
    Connected {
        nbr: usize,
        attempt: u64,
        result: io::Result<TcpStream>,
    },
    /// Bytes read on a connection.
    Bytes {
        nbr: usize,
        conn: ConnId,
        data: Vec<u8>,
    },
    /// A connection closed, or its reader or writer failed.
    Closed {
        nbr: usize,
        conn: ConnId,
        error: Option<String>,
    },
    /// A BFD packet from this address.
    Bfd { from: IpAddr, data: Vec<u8> },
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Accepted(_, peer) => write!(f, "Accepted({peer})"),
            Self::Connected { nbr, attempt, .. } => {
                write!(f, "Connected {{ nbr: {nbr}, attempt: {attempt} }}")
            }
            Self::Bytes { nbr, conn, data } => {
                write!(
                    f,
                    "Bytes {{ nbr: {nbr}, conn: {conn}, len: {} }}",
                    data.len()
                )
            }
            Self::Closed { nbr, conn, error } => {
                write!(f, "Closed {{ nbr: {nbr}, conn: {conn}, error: {error:?} }}")
            }
            Self::Bfd { from, data } => write!(f, "Bfd {{ from: {from}, len: {} }}", data.len()),
        }
    }
}
