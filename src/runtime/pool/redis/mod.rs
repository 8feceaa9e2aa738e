//! The dynamic engine with its tasks in Redis streams (feature `redis`): the mappings
//! `dyn_redis` and `dyn_auto_redis`. The same workers and termination rule as `dyn_multi`;
//! the worker actors live in worker processes on any host that reaches the server, and every
//! task's effects are committed atomically with its acknowledgement.
//!
//! | file | concept |
//! |---|---|
//! | `protocol.rs` | the job's keys, events, control messages and task entries |
//! | `coordinator.rs` | the process the user starts: the job, the roots, the events, the pool |
//! | `worker.rs` | a worker process (`--join JOB`): the backend of its worker actors |

pub(crate) mod coordinator;
pub(crate) mod protocol;
pub(crate) mod worker;
