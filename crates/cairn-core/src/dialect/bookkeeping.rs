//! What Cairn writes for itself: the history, log and checkpoint tables, the
//! session preconditions its literals rely on, transaction probes, keyset
//! batches, the batch prelude and the replication-lag query.

/// The SQL of Cairn's own bookkeeping on one product.
pub trait Bookkeeping {}
