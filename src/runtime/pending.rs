//! Promise-returning waits (`waitAsync`, `lockAsync`): the `AbortSignal` listener, the hand-off to
//! a waiter, and settling the promise on the JS thread (through napi-rs's thread-safe queue, or
//! directly with a raw deferred when the wait ends on this very thread).
//!
//! Order matters, because reading options and calling `signal.addEventListener` run user JS (getters,
//! proxies) that may close or resize the region: every JS interaction happens first (the options are
//! read by `convert::wait_options`), then the word is taken and the wait registered for cancellation
//! in one step under the region's lock, with no JS in between. Errors at any step reject the promise
//! (as Node's promise APIs do) and leave nothing registered or referenced.

use crate::error;
use mapshare_core::sync::Canceller;
use mapshare_core::Error as CoreError;
use napi::bindgen_prelude::{FnArgs, Function, JsObjectValue, Object, ToNapiValue};
use napi::{Env, JsValue, Result, Unknown, UnknownRef};
use std::sync::Arc;
use std::time::Duration;

/// Why a cancelled wait ended: its `AbortSignal` fired.
pub const ABORTED: u32 = 1;
/// Why a cancelled wait ended: its region was closed or resized, or its environment is going away.
pub const CLOSED: u32 = 2;

/// `options.timeout` and `options.signal` of an async wait (read by `convert::wait_options`).
pub struct WaitOptions<'env> {
  pub timeout: Option<Duration>,
  /// An object checked to look like an `AbortSignal`.
  pub signal: Option<Object<'env>>,
}

/// A listener added to a signal, removed again when the wait settles (as `timers/promises` does).
struct Listener {
  signal: UnknownRef,
  handler: UnknownRef,
}

impl Listener {
  fn call(env: &Env, signal: &Object, method: &str, handler: Unknown) -> Result<()> {
    let f: Function<FnArgs<(Unknown, Unknown)>, Unknown> = signal.get_named_property(method)?;
    let event = env.create_string("abort")?;
    f.apply(signal, (event.to_unknown(), handler).into())?;
    Ok(())
  }

  /// Removes the listener and releases both references; errors from user JS are ignored (the wait is
  /// over either way).
  fn remove(self, env: &Env) {
    if let (Ok(signal), Ok(handler)) = (self.signal.get_value(env), self.handler.get_value(env)) {
      if let Ok(obj) = signal.coerce_to_object() {
        let _ = Listener::call(env, &obj, "removeEventListener", handler);
      }
    }
    let _ = self.signal.unref(env);
    let _ = self.handler.unref(env);
  }
}

/// Node's `AbortError`: name 'AbortError', code 'ABORT_ERR', with the signal's reason as `cause`.
pub fn abort_error(env: &Env, signal: Option<&Object>) -> Result<napi::Error> {
  let mut obj = env.create_error(error::coded(env, "ABORT_ERR", "The operation was aborted"))?;
  obj.set_named_property("name", env.create_string("AbortError")?)?;
  if let Some(s) = signal {
    obj.set_named_property("cause", s.get_named_property::<Unknown>("reason")?)?;
  }
  Ok(napi::Error::from(obj.to_unknown()))
}

/// A promise already rejected with `err` (or with the exception user JS left pending).
pub fn rejected<'env>(env: &'env Env, err: napi::Error) -> Result<Object<'env>> {
  type Never = Box<dyn FnOnce(Env) -> Result<()> + Send>;
  let err = super::external::take_exception(env).unwrap_or(err);
  let (deferred, promise) = env.create_deferred::<(), Never>()?;
  deferred.reject(err);
  Ok(promise)
}

/// How a started wait reports its end: `Ok(None)` when cancelled (by the signal, `close()`, or the
/// environment's teardown).
pub type Completion<X> = Box<dyn FnOnce(mapshare_core::Result<Option<X>>) + Send>;

type Resolver<V> = Box<dyn FnOnce(Env) -> Result<V> + Send>;

/// How a wait's promise is settled: through napi-rs's thread-safe queue (from any thread), or
/// directly, on its own JS thread (waits on the thread's ring end there): no thread-safe function to
/// make, and no extra turn of the event loop.
enum Settler<V: ToNapiValue + 'static> {
  Queue(napi::JsDeferred<V, Resolver<V>>),
  Loop { env: napi::sys::napi_env, deferred: napi::sys::napi_deferred },
}

// SAFETY: `Loop` is only ever settled on its own JS thread (ring completions are reaped there, and
// the environment's cleanup hook runs there); it is `Send` only to share the `Completion` type with
// waits that end on other threads, which always use `Queue`.
unsafe impl<V: ToNapiValue + 'static> Send for Settler<V> {}

impl<V: ToNapiValue + 'static> Settler<V> {
  fn new(env: &Env, on_loop: bool) -> Result<(Self, Object<'_>)> {
    if !on_loop {
      let (d, p) = env.create_deferred::<V, Resolver<V>>()?;
      return Ok((Settler::Queue(d), p));
    }
    let mut deferred = std::ptr::null_mut();
    let mut promise = std::ptr::null_mut();
    // SAFETY: valid env and out-pointers, on the JS thread.
    napi::check_status!(unsafe { napi::sys::napi_create_promise(env.raw(), &mut deferred, &mut promise) })?;
    let promise = Object::from_raw(env.raw(), promise);
    Ok((Settler::Loop { env: env.raw(), deferred }, promise))
  }

  fn resolve(self, resolver: Resolver<V>) {
    match self {
      Settler::Queue(d) => d.resolve(resolver),
      Settler::Loop { env, deferred } => {
        // On the deferred's own JS thread (see the Send impl), whose env outlives it.
        let js_env = Env::from_raw(env);
        // SAFETY: a valid env, on its thread.
        let value = resolver(js_env).and_then(|v| unsafe { V::to_napi_value(env, v) });
        // SAFETY: a valid env, on its own thread (see the Send impl); each deferred is settled exactly
        // once (it is consumed here).
        unsafe {
          match value {
            Ok(v) => napi::sys::napi_resolve_deferred(env, deferred, v),
            Err(e) => napi::sys::napi_reject_deferred(env, deferred, napi::JsError::from(e).into_value(env)),
          };
        }
      }
    }
  }

  fn reject(self, err: napi::Error) {
    self.resolve(Box::new(move |_| Err(err)));
  }
}

/// Starts a cancellable wait and returns its promise.
///
/// `track` takes what the wait needs (a held word) and registers the canceller with the region, in
/// one step under the region's lock (`Shared::with_tracked`); `run` hands it, with the canceller and
/// a completion, to whoever waits (the thread's io_uring, a hub of `futex_waitv`, or a thread of its
/// own) and fails only if nobody can; `on_loop` says the completion will run on this JS thread (the
/// ring), so the promise is settled there directly; `to_js` turns the result into the value the
/// promise resolves with. `close()`/`resize()` reject with `ERR_MAPSHARE_CLOSED`, the signal with an
/// `AbortError`.
pub fn start<'env, T, X, V>(
  env: &'env Env,
  on_loop: bool,
  opts: WaitOptions<'env>,
  track: impl FnOnce(&Arc<Canceller>) -> Result<T>,
  run: impl FnOnce(T, Arc<Canceller>, Completion<X>) -> mapshare_core::Result<()>,
  to_js: impl FnOnce(X) -> V + Send + 'static,
) -> Result<Object<'env>>
where
  T: Send + 'static,
  X: Send + 'static,
  V: ToNapiValue + 'static,
{
  let canceller = Arc::new(Canceller::default());
  let mut listener = None;
  if let Some(signal) = &opts.signal {
    if signal.get_named_property::<Unknown>("aborted")?.coerce_to_bool()? {
      return rejected(env, abort_error(env, Some(signal))?);
    }
    let c = canceller.clone();
    let handler = env.create_function_from_closure::<(), (), _>("onabort", move |_ctx| {
      c.cancel(ABORTED);
      Ok(())
    })?;
    let handler_ref = handler.to_unknown().create_ref()?;
    let signal_ref = signal.to_unknown().create_ref()?;
    let l = Listener { signal: signal_ref, handler: handler_ref };
    if let Err(e) = Listener::call(env, signal, "addEventListener", handler.to_unknown()) {
      l.remove(env);
      return Err(e);
    }
    listener = Some(l);
  }
  // From here on no JS runs until the promise settles.
  let prepared = track(&canceller);
  let input = match prepared {
    Ok(input) => input,
    Err(e) => {
      if let Some(l) = listener {
        l.remove(env);
      }
      return Err(e);
    }
  };
  let (deferred, promise) = Settler::<V>::new(env, on_loop)?;
  // Shared with the completion so that, if nobody can take the wait, the promise is settled here.
  let slot = Arc::new(std::sync::Mutex::new(Some((deferred, listener))));
  let done_slot = slot.clone();
  let done_canceller = canceller.clone();
  let complete: Completion<X> = Box::new(move |outcome| {
    let Some((deferred, listener)) = done_slot.lock().unwrap_or_else(|p| p.into_inner()).take() else {
      return;
    };
    let reason = done_canceller.reason();
    deferred.resolve(Box::new(move |env: Env| {
      let signal = match &listener {
        Some(l) => l.signal.get_value(&env).and_then(|v| v.coerce_to_object()).ok(),
        None => None,
      };
      let result = match outcome {
        Ok(Some(x)) => Ok(to_js(x)),
        Ok(None) if reason == ABORTED => Err(abort_error(&env, signal.as_ref())?),
        Ok(None) => Err(error::to_js(&env, CoreError::closed())),
        Err(e) => Err(error::to_js(&env, e)),
      };
      if let Some(l) = listener {
        l.remove(&env);
      }
      result
    }));
  });
  if let Err(e) = run(input, canceller.clone(), complete) {
    canceller.cancel(CLOSED);
    if let Some((deferred, listener)) = slot.lock().unwrap_or_else(|p| p.into_inner()).take() {
      if let Some(l) = listener {
        l.remove(env);
      }
      deferred.reject(error::to_js(env, e));
    }
  }
  Ok(promise)
}
