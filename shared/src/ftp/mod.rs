//! The FTP/FTPS file source: everything the poller and the ingester need to talk
//! to a tenant's server. For now only [`listing`], which turns `LIST` and `MLSD`
//! output into typed entries.

pub mod listing;
