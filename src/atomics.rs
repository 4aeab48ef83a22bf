//! Atomics, `wait`/`notify` and `waitAsync` on a region: argument conversion and the async waiter.

use crate::convert;
use crate::error;
use crate::region::{InFlight, RegionState};
use mapshare_core::sync::{self, AtomicOp, Canceller};
use mapshare_core::{sys::AsyncWait, Error as CoreError};
use napi::bindgen_prelude::{BigInt, FnArgs, FromNapiValue, Function, JsObjectValue, Object};
use napi::{Env, JsValue, Result, Unknown, ValueType};
use std::sync::Arc;
use std::time::Duration;

/// Why a cancelled async wait ended.
pub const ABORTED: u32 = 1;
pub const CLOSED: u32 = 2;

/// A 32-bit operand: an integer in `[-2^31, 2^32)`, wrapped to `i32` as `Int32Array` stores it.
fn int32(env: &Env, v: Option<Unknown>, name: &str) -> Result<i32> {
  match convert::opt_int(env, v, name, -(1i64 << 31), (1i64 << 32) - 1)? {
    Some(n) => Ok(n as u32 as i32),
    None => Err(error::arg_type(env, name, "of type number", "undefined")),
  }
}

/// A 64-bit operand: a `bigint` that fits `i64` (as `BigInt64Array` stores it).
fn int64(env: &Env, v: Option<Unknown>, name: &str) -> Result<i64> {
  let received = v.as_ref().map_or_else(|| "undefined".into(), convert::describe);
  let Some(v) = v else { return Err(error::arg_type(env, name, "of type bigint", &received)) };
  if v.get_type()? != ValueType::BigInt {
    return Err(error::arg_type(env, name, "of type bigint", &received));
  }
  let (n, lossless) = BigInt::from_unknown(v)?.get_i64();
  if !lossless {
    return Err(error::out_of_range(env, name, ">= -(2n ** 63n) && < 2n ** 63n", "a larger bigint"));
  }
  Ok(n)
}

/// A timeout in milliseconds: undefined or `Infinity` waits forever.
pub fn timeout(env: &Env, v: Option<Unknown>, name: &str) -> Result<Option<Duration>> {
  let Some(v) = v else { return Ok(None) };
  match v.get_type()? {
    ValueType::Undefined => return Ok(None),
    ValueType::Number => {}
    _ => return Err(error::arg_type(env, name, "of type number", &convert::describe(&v))),
  }
  let ms = f64::from_unknown(v)?;
  if ms == f64::INFINITY {
    return Ok(None);
  }
  if !(ms >= 0.0 && ms.is_finite()) {
    return Err(error::out_of_range(env, name, ">= 0 (milliseconds) or Infinity", &convert::describe(&v)));
  }
  Ok(Some(Duration::from_secs_f64(ms / 1000.0)))
}

fn count(env: &Env, v: Option<Unknown>) -> Result<u32> {
  if let Some(u) = &v {
    if u.get_type()? == ValueType::Number && f64::from_unknown(*u)? == f64::INFINITY {
      return Ok(u32::MAX);
    }
  }
  Ok(convert::opt_int(env, v, "count", 0, u32::MAX as i64)?.map_or(u32::MAX, |n| n as u32))
}

/// The operands `op` takes, parsed with `parse`: none for `load`, `expected` and `replacement` for
/// `compareExchange`, `value` otherwise.
fn operands<T: Default>(
  env: &Env,
  op: AtomicOp,
  a: Option<Unknown>,
  b: Option<Unknown>,
  parse: fn(&Env, Option<Unknown>, &str) -> Result<T>,
) -> Result<(T, T)> {
  Ok(match op {
    AtomicOp::Load => (T::default(), T::default()),
    AtomicOp::CompareExchange => (parse(env, a, "expected")?, parse(env, b, "replacement")?),
    _ => (parse(env, a, "value")?, T::default()),
  })
}

impl RegionState {
  pub fn atomic32(
    &self,
    env: &Env,
    op: AtomicOp,
    offset: Option<Unknown>,
    a: Option<Unknown>,
    b: Option<Unknown>,
  ) -> Result<i32> {
    let offset = convert::index(env, offset, "byteOffset")?;
    let (a, b) = operands(env, op, a, b, int32)?;
    self.with(env, |r| r.atomic32(offset, op, a, b))
  }

  pub fn atomic64(
    &self,
    env: &Env,
    op: AtomicOp,
    offset: Option<Unknown>,
    a: Option<Unknown>,
    b: Option<Unknown>,
  ) -> Result<BigInt> {
    let offset = convert::index(env, offset, "byteOffset")?;
    let (a, b) = operands(env, op, a, b, int64)?;
    self.with(env, |r| r.atomic64(offset, op, a, b)).map(BigInt::from)
  }

  pub fn wait(
    &self,
    env: &Env,
    offset: Option<Unknown>,
    expected: Option<Unknown>,
    ms: Option<Unknown>,
  ) -> Result<String> {
    let offset = convert::index(env, offset, "byteOffset")?;
    let expected = int32(env, expected, "expected")?;
    let t = timeout(env, ms, "timeout")?;
    self.with(env, |r| r.wait(offset, expected, t)).map(|w| w.as_str().to_owned())
  }

  pub fn notify(&self, env: &Env, offset: Option<Unknown>, n: Option<Unknown>) -> Result<u32> {
    let offset = convert::index(env, offset, "byteOffset")?;
    let n = count(env, n)?;
    self.with(env, |r| r.notify(offset, n))
  }

  /// `waitAsync`: the wait runs on a thread of its own (never libuv's pool), and resolves with
  /// 'ok' | 'not-equal' | 'timed-out'. An `AbortSignal` or `close()` cancels it.
  pub fn wait_async<'env>(
    &self,
    env: &'env Env,
    offset: Option<Unknown>,
    expected: Option<Unknown>,
    options: Option<Unknown>,
  ) -> Result<Object<'env>> {
    let offset = convert::index(env, offset, "byteOffset")?;
    let expected = int32(env, expected, "expected")?;
    let opts = convert::options(env, options, "options")?;
    let t = timeout(env, convert::field(&opts, "timeout")?, "options.timeout")?;
    let signal = match convert::field(&opts, "signal")? {
      Some(s) if !matches!(s.get_type()?, ValueType::Undefined | ValueType::Null) => {
        if s.get_type()? != ValueType::Object {
          return Err(error::arg_type(
            env,
            "options.signal",
            "an instance of AbortSignal",
            &convert::describe(&s),
          ));
        }
        Some(s.coerce_to_object()?)
      }
      _ => None,
    };
    let addr = self.with(env, |r| r.wait_address(offset))?;
    type Resolver = Box<dyn FnOnce(Env) -> Result<String> + Send>;
    let (deferred, promise) = env.create_deferred::<String, Resolver>()?;
    if let Some(signal) = &signal {
      if signal.get_named_property::<Unknown>("aborted")?.coerce_to_bool()? {
        deferred.reject(abort_error(env, Some(signal))?);
        return Ok(promise);
      }
    }
    let canceller = Arc::new(Canceller::default());
    self.cell().track(&canceller);
    if let Some(signal) = &signal {
      let c = canceller.clone();
      let on_abort = env.create_function_from_closure::<(), (), _>("onabort", move |_ctx| {
        c.cancel(ABORTED);
        Ok(())
      })?;
      let add: Function<FnArgs<(Unknown, Unknown, Unknown)>, Unknown> =
        signal.get_named_property("addEventListener")?;
      let mut once = Object::new(env)?;
      once.set_named_property("once", true)?;
      let event = env.create_string("abort")?;
      add.apply(signal, (event.to_unknown(), on_abort.to_unknown(), once.to_unknown()).into())?;
    }
    // The signal itself (an object: it can be referenced) is kept to read its `reason` on abort.
    let signal_ref = match &signal {
      Some(s) => Some(s.to_unknown().create_ref()?),
      None => None,
    };
    // Counts as in flight until the wait is over: close() cancels, waits for it, then unmaps.
    let in_flight = InFlight::new(self.cell().clone());
    let spawned = crate::waiters::run(move || {
      // SAFETY: `addr` came from wait_address on the region of `in_flight`'s cell; close() cancels
      // this wait and waits for `in_flight` to drop before it unmaps.
      let result = unsafe { sync::wait_cancellable(addr, expected, t, &canceller) };
      drop(in_flight);
      deferred.resolve(Box::new(move |env: Env| {
        let signal = take_signal(&env, signal_ref)?;
        match result {
          Ok(AsyncWait::Done(w)) => Ok(w.as_str().to_owned()),
          Ok(AsyncWait::Cancelled(ABORTED)) => Err(abort_error(&env, signal.as_ref())?),
          Ok(AsyncWait::Cancelled(_)) => Err(error::to_js(&env, CoreError::closed())),
          Err(e) => Err(error::to_js(&env, e)),
        }
      }));
    });
    spawned.map_err(|e| error::to_js(env, CoreError::io(&e, "pthread_create")))?;
    Ok(promise)
  }
}

/// `options.signal`: an AbortSignal, or none.
pub fn signal_option<'env>(env: &Env, opts: &Option<Object<'env>>) -> Result<Option<Object<'env>>> {
  match convert::field(opts, "signal")? {
    Some(s) if !matches!(s.get_type()?, ValueType::Undefined | ValueType::Null) => {
      if s.get_type()? != ValueType::Object {
        return Err(error::arg_type(
          env,
          "options.signal",
          "an instance of AbortSignal",
          &convert::describe(&s),
        ));
      }
      Ok(Some(s.coerce_to_object()?))
    }
    _ => Ok(None),
  }
}

/// `signal.addEventListener('abort', () => canceller.cancel(ABORTED), { once: true })`.
pub fn cancel_on_abort(env: &Env, signal: &Object, canceller: Arc<Canceller>) -> Result<()> {
  let on_abort = env.create_function_from_closure::<(), (), _>("onabort", move |_ctx| {
    canceller.cancel(ABORTED);
    Ok(())
  })?;
  let add: Function<FnArgs<(Unknown, Unknown, Unknown)>, Unknown> =
    signal.get_named_property("addEventListener")?;
  let mut once = Object::new(env)?;
  once.set_named_property("once", true)?;
  let event = env.create_string("abort")?;
  add.apply(signal, (event.to_unknown(), on_abort.to_unknown(), once.to_unknown()).into())?;
  Ok(())
}

/// The signal kept (as a reference) by an async wait, back as an object; releases the reference.
pub fn take_signal<'env>(env: &'env Env, r: Option<napi::UnknownRef>) -> Result<Option<Object<'env>>> {
  let Some(r) = r else { return Ok(None) };
  let v = r.get_value(env)?.coerce_to_object();
  r.unref(env)?;
  Ok(Some(v?))
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
