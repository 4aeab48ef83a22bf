//! Regions and their `Mutex` objects refuse `structuredClone` and `postMessage` (a `DataCloneError`)
//! instead of arriving as `{}`: each instance is handed to Node's `markAsUncloneable`
//! (`node:worker_threads`, Node ≥ 22.10), which src-js/native.ts gives the addon when it loads, on
//! every thread (`_setUncloneable`). Where the runtime has no such function nothing is marked.

use napi::bindgen_prelude::{FnArgs, FromNapiValue, Function, ToNapiValue, TypeName};
use napi::{Env, Result, Unknown, UnknownRef};
use std::cell::RefCell;
use std::mem::ManuallyDrop;

thread_local! {
  /// This thread's environment's `markAsUncloneable`. Never dropped: V8 frees the reference with the
  /// environment, and a runtime that skips cleanup hooks at exit (Deno) would otherwise drop it after.
  static MARK: RefCell<Option<ManuallyDrop<UnknownRef>>> = const { RefCell::new(None) };
}

/// Internal (src-js/native.ts, at load): the function that marks an object uncloneable.
#[napi(js_name = "_setUncloneable", skip_typescript, catch_unwind)]
pub fn set_uncloneable(env: &Env, mark: Unknown) -> Result<()> {
  if mark.get_type()? != napi::ValueType::Function {
    return Ok(());
  }
  let reference = ManuallyDrop::new(mark.create_ref()?);
  if let Some(old) = MARK.with(|m| m.borrow_mut().replace(reference)) {
    ManuallyDrop::into_inner(old).unref(env)?;
  }
  Ok(())
}

/// A class instance that is marked uncloneable as it becomes a JS object: what the regions'
/// factories, `openAsync` and `mutex()` return.
pub struct Uncloneable<T>(pub T);

impl<T: TypeName> TypeName for Uncloneable<T> {
  fn type_name() -> &'static str {
    T::type_name()
  }

  fn value_type() -> napi::ValueType {
    T::value_type()
  }
}

impl<T: ToNapiValue> ToNapiValue for Uncloneable<T> {
  unsafe fn to_napi_value(raw_env: napi::sys::napi_env, value: Self) -> Result<napi::sys::napi_value> {
    // SAFETY: napi-rs calls this on the environment's JS thread with its live `napi_env`.
    let raw = unsafe { T::to_napi_value(raw_env, value.0)? };
    let env = Env::from_raw(raw_env);
    // SAFETY: `raw` is a live value of this environment, just made.
    let object = unsafe { Unknown::from_raw_unchecked(raw_env, raw) };
    let mark = MARK.with(|m| m.borrow().as_deref().map(|r| r.get_value(&env)).transpose())?;
    if let Some(mark) = mark {
      let f: Function<FnArgs<(Unknown,)>, Unknown> = Function::from_unknown(mark)?;
      f.call((object,).into())?;
    }
    Ok(raw)
  }
}
