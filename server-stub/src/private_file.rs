//! Files only the server's user may read, private from the moment they exist: the SQLite
//! database (SQLite gives its `-wal` and `-shm` files the database file's mode), the TLS key
//! and certificate, the buyer-key secret. The one helper is shared with the agent:
//! [`mask_private_file`].

pub use mask_private_file::{create_atomic, create_private_file as ensure, write_atomic};
