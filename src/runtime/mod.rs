//! The Node runtime glue, and all of the binding's `unsafe`: Buffers and ArrayBuffers over mapped
//! memory and the bytes of JS views (`external`), promises of waits settled on their JS thread
//! (`pending`), waits that end with their environment (`teardown`), `unlinkOnClose` names removed
//! when the program ends without `close()` (`exit_unlinks`), instances that refuse to be cloned
//! (`uncloneable`), and a libuv poll handle (`uv`)
//! that watches this thread's io_uring of waits (`ring`). Everything else in the binding is safe
//! code over these and `mapshare-core`.

pub mod exit_unlinks;
pub mod external;
pub mod pending;
pub mod ring;
pub mod shared_array_buffer;
pub mod teardown;
pub mod uncloneable;
pub mod uv;
