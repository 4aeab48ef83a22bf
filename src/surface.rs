//! `region_surface!`: the JS methods every region class shares, put on a class by one line at the
//! end of its file. They convert nothing themselves: each calls the region's state (`RegionState`)
//! or one of the functions in `region` on its cell.

/// Puts the shared region surface on a `#[napi]` class with a `state: RegionState` field.
macro_rules! region_surface {
  ($class:ident) => {
    #[napi]
    impl $class {
      /// A zero-copy `Buffer` over the whole region (the same object on every access). Writes to it
      /// are writes to the mapping. After `close()` or `resize()` it is cut off the mapping (zeros,
      /// writes go nowhere): read `buffer` again after `resize()`. Throws `ERR_MAPSHARE_BUFFER_TOO_LARGE`
      /// above `buffer.constants.MAX_LENGTH` (4 GiB on Node 20). Throws
      /// `ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE` where the runtime forbids external memory
      /// (Electron): use `read`/`readInto`/`write` there.
      #[napi(getter, ts_return_type = "Buffer<ArrayBuffer>", catch_unwind)]
      pub fn buffer<'env>(&self, env: &'env napi::Env) -> napi::Result<napi::Unknown<'env>> {
        self.state.buffer(env)
      }

      /// A `SharedArrayBuffer` over the whole region (the same object on every access until `close()`
      /// or `resize()`): `postMessage(sab)` hands the mapping to worker threads without copying, and
      /// typed arrays over it work with JS `Atomics` in every thread. After `close()` every thread's
      /// copy reads zeros; the mapping is unmapped once the last thread lets go of its last one.
      /// `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM` where the runtime cannot make one (Node 20, Electron's
      /// memory cage).
      #[napi(getter, ts_return_type = "SharedArrayBuffer", catch_unwind)]
      pub fn shared_array_buffer<'env>(&self, env: &'env napi::Env) -> napi::Result<napi::Unknown<'env>> {
        self.state.shared_array_buffer(env)
      }

      /// Size of the region in bytes (0 once closed).
      #[napi(getter, catch_unwind)]
      pub fn length(&self) -> f64 {
        self.state.len() as f64
      }

      /// True once `close()` has unmapped the region.
      #[napi(getter, catch_unwind)]
      pub fn closed(&self) -> bool {
        self.state.is_closed()
      }

      /// True if the region was mapped read-only: every write through mapshare (`write`, storing
      /// atomics, `mutex()`, struct layouts, channels) is `ERR_MAPSHARE_READ_ONLY`, and reads see
      /// the writer's changes. Its `buffer` and views are copy-on-write: what JS writes to them stays
      /// in this process (and that page no longer follows the file).
      #[napi(getter, catch_unwind)]
      pub fn read_only(&self) -> bool {
        self.state.is_read_only()
      }

      /// Copies `length` bytes (default: to the end) starting at `offset` (default 0) into a new Buffer.
      /// Works where `buffer` is unavailable.
      #[napi(ts_args_type = "offset?: number, length?: number", ts_return_type = "Buffer<ArrayBuffer>", catch_unwind)]
      pub fn read(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::Buffer> {
        $crate::region::copies::read(self.state.cell(), env, offset, length)
      }

      /// Copies region bytes from `offset` (default 0) into `target`, as many as fit; returns the count.
      #[napi(ts_args_type = "target: ArrayBufferView | ArrayBuffer, offset?: number", catch_unwind)]
      pub fn read_into(
        &self,
        env: &napi::Env,
        target: Option<napi::Unknown>,
        offset: Option<napi::Unknown>,
      ) -> napi::Result<f64> {
        $crate::region::copies::read_into(self.state.cell(), env, target, offset)
      }

      /// Copies `data` (a string is UTF-8 encoded) into the region at `offset` (default 0); returns the
      /// byte count. All of it must fit (`ERR_OUT_OF_RANGE` otherwise); `ERR_MAPSHARE_READ_ONLY` on a
      /// read-only region.
      #[napi(ts_args_type = "data: string | ArrayBufferView | ArrayBuffer, offset?: number", catch_unwind)]
      pub fn write(
        &self,
        env: &napi::Env,
        data: Option<napi::Unknown>,
        offset: Option<napi::Unknown>,
      ) -> napi::Result<f64> {
        $crate::region::copies::write(self.state.cell(), env, data, offset)
      }

      /// `msync(MS_SYNC)`: returns once the range (default: all) is written to the backing file.
      #[napi(ts_args_type = "offset?: number, length?: number", catch_unwind)]
      pub fn flush(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<()> {
        $crate::region::paging::flush(self.state.cell(), env, offset, length)
      }

      /// `flush` on a libuv worker thread, leaving the event loop free.
      #[napi(ts_args_type = "offset?: number, length?: number", ts_return_type = "Promise<void>", catch_unwind)]
      pub fn flush_async(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::bindgen_prelude::AsyncTask<$crate::region::flush_task::FlushTask> {
        napi::bindgen_prelude::AsyncTask::new($crate::region::paging::flush_async(self.state.cell(), env, offset, length))
      }

      /// `madvise`: tells the kernel how the range (default: all) will be used. `'dontneed'` drops the
      /// pages: a shared file mapping reloads them from the file, private memory reads back as zeros.
      #[napi(
        ts_args_type = "advice: 'normal' | 'random' | 'sequential' | 'willneed' | 'dontneed' | 'hugepage' | 'nohugepage', offset?: number, length?: number",
        catch_unwind
      )]
      pub fn advise(
        &self,
        env: &napi::Env,
        advice: Option<napi::Unknown>,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<()> {
        $crate::region::paging::advise(self.state.cell(), env, advice, offset, length)
      }

      /// `mlock`: keeps the range (default: all) in RAM, never paged out. Limited by `RLIMIT_MEMLOCK`
      /// (`EPERM`/`ENOMEM`). Not the lock between processes: that is `mutex(offset)`.
      #[napi(ts_args_type = "offset?: number, length?: number", catch_unwind)]
      pub fn lock_memory(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<()> {
        $crate::region::paging::lock(self.state.cell(), env, true, offset, length)
      }

      /// `lockMemory` on a libuv worker thread (locking a large range reads all of it in first).
      /// Errors reject.
      #[napi(ts_args_type = "offset?: number, length?: number", ts_return_type = "Promise<void>", catch_unwind)]
      pub fn lock_memory_async(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::bindgen_prelude::AsyncTask<$crate::region::region_task::RegionTask> {
        napi::bindgen_prelude::AsyncTask::new($crate::region::paging::task(self.state.cell(), $crate::region::paging::lock_op(env, true, offset, length)))
      }

      /// `advise` on a libuv worker thread (`'willneed'` may read the range in). Errors reject.
      #[napi(
        ts_args_type = "advice: 'normal' | 'random' | 'sequential' | 'willneed' | 'dontneed' | 'hugepage' | 'nohugepage', offset?: number, length?: number",
        ts_return_type = "Promise<void>",
        catch_unwind
      )]
      pub fn advise_async(
        &self,
        env: &napi::Env,
        advice: Option<napi::Unknown>,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::bindgen_prelude::AsyncTask<$crate::region::region_task::RegionTask> {
        napi::bindgen_prelude::AsyncTask::new($crate::region::paging::task(self.state.cell(), $crate::region::paging::advise_op(env, advice, offset, length)))
      }

      /// `munlock`: lets the range (default: all) be paged out again.
      #[napi(ts_args_type = "offset?: number, length?: number", catch_unwind)]
      pub fn unlock_memory(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<()> {
        $crate::region::paging::lock(self.state.cell(), env, false, offset, length)
      }

      /// `mincore`: which pages of the range (default: all) are in memory.
      #[napi(ts_args_type = "offset?: number, length?: number", catch_unwind)]
      pub fn residency(
        &self,
        env: &napi::Env,
        offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<$crate::region::Residency> {
        $crate::region::paging::residency(self.state.cell(), env, offset, length)
      }

      /// Closes the region now: the file, object or segment is released at once (descriptors closed,
      /// System V `nattch` drops), and `buffer` and every view over it are cut off it: they keep their
      /// length but read zeros, and writes to them reach nothing anyone can see. The addresses stay
      /// reserved until the last such view (or native work using it) is gone, so nothing can crash.
      /// Calling it again does nothing; other methods then throw `ERR_MAPSHARE_CLOSED`.
      #[napi(catch_unwind)]
      pub fn close(&self, env: &napi::Env) -> napi::Result<()> {
        self.state.close(env)
      }

      /// `Atomics.load` on the 32-bit word at `byteOffset` (a multiple of 4), sequentially consistent,
      /// on the shared memory itself: works where `buffer` is unavailable and agrees with `Atomics.*`
      /// on an `Int32Array` over `buffer` and with C11 atomics in other processes.
      #[napi(ts_args_type = "byteOffset: number", catch_unwind)]
      pub fn load(&self, env: &napi::Env, byte_offset: Option<napi::Unknown>) -> napi::Result<i32> {
        $crate::region::atomics::atomic32(self.state.cell(), env, mapshare_core::sync::AtomicOp::Load, byte_offset, None, None)
      }

      /// `Atomics.compareExchange` on the 32-bit word at `byteOffset`: stores `replacement` if the word
      /// holds `expected`; returns the value it held.
      #[napi(ts_args_type = "byteOffset: number, expected: number, replacement: number", catch_unwind)]
      pub fn compare_exchange(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        expected: Option<napi::Unknown>,
        replacement: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        $crate::region::atomics::atomic32(self.state.cell(), env, mapshare_core::sync::AtomicOp::CompareExchange, byte_offset, expected, replacement)
      }

      /// `Atomics.load` on the 64-bit word at `byteOffset` (a multiple of 8), as a bigint.
      #[napi(ts_args_type = "byteOffset: number", catch_unwind)]
      pub fn load64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        $crate::region::atomics::atomic64(self.state.cell(), env, mapshare_core::sync::AtomicOp::Load, byte_offset, None, None)
      }

      /// `Atomics.compareExchange` on the 64-bit word at `byteOffset`, with bigints.
      #[napi(ts_args_type = "byteOffset: number, expected: bigint, replacement: bigint", catch_unwind)]
      pub fn compare_exchange64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        expected: Option<napi::Unknown>,
        replacement: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        $crate::region::atomics::atomic64(self.state.cell(), env, mapshare_core::sync::AtomicOp::CompareExchange, byte_offset, expected, replacement)
      }

      /// `Atomics.store`: writes `value`; returns `value`. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number", catch_unwind)]
      pub fn store(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        $crate::region::atomics::atomic32(self.state.cell(), env, mapshare_core::sync::AtomicOp::Store, byte_offset, value, None)
      }

      /// `Atomics.store`: writes `value`; returns `value`. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint", catch_unwind)]
      pub fn store64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        $crate::region::atomics::atomic64(self.state.cell(), env, mapshare_core::sync::AtomicOp::Store, byte_offset, value, None)
      }

      /// `Atomics.add`: adds `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number", catch_unwind)]
      pub fn add(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        $crate::region::atomics::atomic32(self.state.cell(), env, mapshare_core::sync::AtomicOp::Add, byte_offset, value, None)
      }

      /// `Atomics.add`: adds `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint", catch_unwind)]
      pub fn add64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        $crate::region::atomics::atomic64(self.state.cell(), env, mapshare_core::sync::AtomicOp::Add, byte_offset, value, None)
      }

      /// `Atomics.sub`: subtracts `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number", catch_unwind)]
      pub fn sub(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        $crate::region::atomics::atomic32(self.state.cell(), env, mapshare_core::sync::AtomicOp::Sub, byte_offset, value, None)
      }

      /// `Atomics.sub`: subtracts `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint", catch_unwind)]
      pub fn sub64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        $crate::region::atomics::atomic64(self.state.cell(), env, mapshare_core::sync::AtomicOp::Sub, byte_offset, value, None)
      }

      /// `Atomics.and`: bitwise AND with `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number", catch_unwind)]
      pub fn and(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        $crate::region::atomics::atomic32(self.state.cell(), env, mapshare_core::sync::AtomicOp::And, byte_offset, value, None)
      }

      /// `Atomics.and`: bitwise AND with `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint", catch_unwind)]
      pub fn and64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        $crate::region::atomics::atomic64(self.state.cell(), env, mapshare_core::sync::AtomicOp::And, byte_offset, value, None)
      }

      /// `Atomics.or`: bitwise OR with `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number", catch_unwind)]
      pub fn or(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        $crate::region::atomics::atomic32(self.state.cell(), env, mapshare_core::sync::AtomicOp::Or, byte_offset, value, None)
      }

      /// `Atomics.or`: bitwise OR with `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint", catch_unwind)]
      pub fn or64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        $crate::region::atomics::atomic64(self.state.cell(), env, mapshare_core::sync::AtomicOp::Or, byte_offset, value, None)
      }

      /// `Atomics.xor`: bitwise XOR with `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number", catch_unwind)]
      pub fn xor(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        $crate::region::atomics::atomic32(self.state.cell(), env, mapshare_core::sync::AtomicOp::Xor, byte_offset, value, None)
      }

      /// `Atomics.xor`: bitwise XOR with `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint", catch_unwind)]
      pub fn xor64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        $crate::region::atomics::atomic64(self.state.cell(), env, mapshare_core::sync::AtomicOp::Xor, byte_offset, value, None)
      }

      /// `Atomics.exchange`: stores `value`; returns the old value. On the 32-bit word at `byteOffset` (a multiple of 4).
      #[napi(ts_args_type = "byteOffset: number, value: number", catch_unwind)]
      pub fn exchange(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<i32> {
        $crate::region::atomics::atomic32(self.state.cell(), env, mapshare_core::sync::AtomicOp::Exchange, byte_offset, value, None)
      }

      /// `Atomics.exchange`: stores `value`; returns the old value. On the 64-bit word at `byteOffset` (a multiple of 8), with bigints.
      #[napi(ts_args_type = "byteOffset: number, value: bigint", catch_unwind)]
      pub fn exchange64(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        value: Option<napi::Unknown>,
      ) -> napi::Result<napi::bindgen_prelude::BigInt> {
        $crate::region::atomics::atomic64(self.state.cell(), env, mapshare_core::sync::AtomicOp::Exchange, byte_offset, value, None)
      }


      /// Like `Atomics.wait`, across processes: sleeps while the 32-bit word at `byteOffset` holds
      /// `expected`, until `notify` on the same word from any process that maps the same memory (file,
      /// POSIX object, memfd, System V), or `timeout` ms. Blocks this thread (after watching the word for
      /// up to 20 µs on machines with more than one CPU). Linux (shared futex), macOS 14.4+, Windows
      /// (between processes that map the same named object or file).
      #[napi(
        ts_args_type = "byteOffset: number, expected: number, timeout?: number",
        ts_return_type = "'ok' | 'not-equal' | 'timed-out'",
        catch_unwind
      )]
      pub fn wait(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        expected: Option<napi::Unknown>,
        timeout: Option<napi::Unknown>,
      ) -> napi::Result<String> {
        $crate::region::atomics::wait(self.state.cell(), env, byte_offset, expected, timeout).map(|w| w.as_str().to_owned())
      }

      /// Wakes up to `count` (default: all) waiters on the 32-bit word at `byteOffset`, in any process;
      /// returns how many were woken.
      #[napi(ts_args_type = "byteOffset: number, count?: number", catch_unwind)]
      pub fn notify(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
        count: Option<napi::Unknown>,
      ) -> napi::Result<u32> {
        $crate::region::atomics::notify(self.state.cell(), env, byte_offset, count)
      }

      /// `wait` without blocking: resolves 'ok' | 'not-equal' | 'timed-out'. On Linux 6.7+ the wait sits
      /// in this thread's io_uring; elsewhere on a waiter thread (never libuv's pool, so `fs` calls keep
      /// flowing). `signal` aborts a wait in
      /// progress (rejects with `AbortError`); `close()` rejects pending waits with `ERR_MAPSHARE_CLOSED`.
      #[napi(
        ts_args_type = "byteOffset: number, expected: number, options?: { timeout?: number; signal?: AbortSignal }",
        ts_return_type = "Promise<'ok' | 'not-equal' | 'timed-out'>",
        catch_unwind
      )]
      pub fn wait_async<'env>(
        &self,
        env: &'env napi::Env,
        byte_offset: Option<napi::Unknown>,
        expected: Option<napi::Unknown>,
        options: Option<napi::Unknown<'env>>,
      ) -> napi::Result<napi::bindgen_prelude::Object<'env>> {
        $crate::region::atomics::wait_async(self.state.cell(), env, byte_offset, expected, options)
      }

      /// A zero-copy view of the region's memory: a typed array of `type` (`Float64Array`, any typed
      /// array type) with `length` elements (default: as many as fit), or a `DataView` of `length`
      /// bytes, at `byteOffset` (default 0; a multiple of the element size: `ERR_MAPSHARE_UNALIGNED`).
      /// Like `buffer`, it reads zeros after `close()` or `resize()`, and it works for any part of a
      /// region larger than a Buffer can be. Out of range: `ERR_OUT_OF_RANGE`. Where the runtime forbids
      /// external memory (Electron), `ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE`: use the copy methods.
      #[napi(
        ts_generic_types = "T extends ViewType",
        ts_args_type = "type: T, byteOffset?: number, length?: number",
        ts_return_type = "InstanceType<T>",
        catch_unwind
      )]
      pub fn view<'env>(
        &self,
        env: &'env napi::Env,
        kind: Option<napi::Unknown>,
        byte_offset: Option<napi::Unknown>,
        length: Option<napi::Unknown>,
      ) -> napi::Result<napi::Unknown<'env>> {
        $crate::region::views::view(&self.state, env, kind, byte_offset, length)
      }

      /// A lock in the 32-bit word at `byteOffset` (a multiple of 4; 0 means unlocked), usable from
      /// every process that maps this memory; it survives its owner's death (`{ ownerDied: true }`).
      #[napi(ts_args_type = "byteOffset: number", ts_return_type = "Mutex", catch_unwind)]
      pub fn mutex(
        &self,
        env: &napi::Env,
        byte_offset: Option<napi::Unknown>,
      ) -> napi::Result<$crate::runtime::uncloneable::Uncloneable<$crate::mutex::Mutex>> {
        let offset = $crate::convert::index(env, byte_offset, "byteOffset")?;
        self.state.with(env, |r| r.lock_handle(offset).map(drop))?;
        Ok($crate::runtime::uncloneable::Uncloneable($crate::mutex::Mutex::new(self.state.cell().clone(), offset)))
      }

      /// Internal (the JS fast path, src-js/fast-path.ts): this region's number for the functions in
      /// `handles`.
      #[napi(js_name = "_handle", skip_typescript, catch_unwind)]
      pub fn handle(&self) -> u32 {
        self.state.handle()
      }

      /// Internal (the JS fast path, src-js/fast-path.ts): see `region::fast_path`.
      #[napi(js_name = "_fastPath", skip_typescript, catch_unwind)]
      pub fn fast_path<'env>(
        &self,
        env: &'env napi::Env,
      ) -> napi::Result<Option<napi::bindgen_prelude::Object<'env>>> {
        $crate::region::fast_path::fast_path(self.state.cell(), env)
      }

      /// Same as `close()`, for `using` declarations.
      #[napi(well_known_symbol = "dispose", catch_unwind)]
      pub fn dispose(&self, env: &napi::Env) -> napi::Result<()> {
        self.state.close(env)
      }
    }

    impl napi::bindgen_prelude::ObjectFinalize for $class {
      fn finalize(self, env: napi::Env) -> napi::Result<()> {
        self.state.release(&env);
        Ok(())
      }
    }
  };
}

pub(crate) use region_surface;
