//! Core errors -> JS errors shaped like Node's (`code`, `errno`, `syscall`, `path`), plus the
//! argument errors Node itself throws (`ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE`).

use mapshare_core::{Error as CoreError, Kind};
use napi::bindgen_prelude::{JsObjectValue, Object as JsObject};
use napi::{Env, Error, JsError, JsRangeError, JsTypeError, JsValue, Status, Unknown};

enum Class {
  Error,
  Type,
  Range,
}

/// Builds a JS error of `class` with `code` and extra string/number properties, ready to throw.
fn build(env: &Env, class: Class, code: &str, message: String, props: &[(&str, Prop)]) -> Error {
  let base = Error::new(Status::GenericFailure, message);
  let value: Unknown = match class {
    Class::Error => JsError::from(base).into_unknown(*env),
    Class::Type => JsTypeError::from(base).into_unknown(*env),
    Class::Range => JsRangeError::from(base).into_unknown(*env),
  };
  let result = (|| -> napi::Result<Error> {
    let mut obj: JsObject = value.coerce_to_object()?;
    obj.set_named_property("code", env.create_string(code)?)?;
    for (name, prop) in props {
      match prop {
        Prop::Str(s) => obj.set_named_property(name, env.create_string(s)?)?,
        Prop::Num(n) => obj.set_named_property(name, env.create_int32(*n)?)?,
      }
    }
    Ok(Error::from(obj.to_unknown()))
  })();
  result.unwrap_or_else(|e| e)
}

enum Prop {
  Str(String),
  Num(i32),
}

/// Converts a core error, naming `what` (a path or object name) when the error has none.
pub fn to_js(env: &Env, err: CoreError) -> Error {
  let message = err.to_string();
  let code = err.code();
  let mut props = Vec::new();
  if let Some(errno) = err.node_errno() {
    // Node reports errno as libuv does: the negated C value on POSIX systems, libuv's codes on Windows.
    props.push(("errno", Prop::Num(errno)));
  }
  if let Some(s) = err.syscall {
    props.push(("syscall", Prop::Str(s.to_owned())));
  }
  if let Some(p) = &err.path {
    props.push(("path", Prop::Str(p.clone())));
  }
  let class = match err.kind {
    Kind::OutOfRange | Kind::Unaligned => Class::Range,
    Kind::InvalidArgValue => Class::Type,
    _ => Class::Error,
  };
  build(env, class, &code, message, &props)
}

/// `TypeError [ERR_INVALID_ARG_TYPE]: The "offset" argument must be of type number. Received ...`
pub fn arg_type(env: &Env, name: &str, expected: &str, received: &str) -> Error {
  let message = format!("The \"{name}\" argument must be {expected}. Received {received}");
  build(env, Class::Type, "ERR_INVALID_ARG_TYPE", message, &[])
}

/// `RangeError [ERR_OUT_OF_RANGE]: The value of "offset" is out of range. It must be ... Received ...`
pub fn out_of_range(env: &Env, name: &str, constraint: &str, received: &str) -> Error {
  let message =
    format!("The value of \"{name}\" is out of range. It must be {constraint}. Received {received}");
  build(env, Class::Range, "ERR_OUT_OF_RANGE", message, &[])
}

/// `TypeError [ERR_INVALID_ARG_VALUE]: The argument 'mode' must be one of ... Received ...`
pub fn arg_value(env: &Env, name: &str, reason: &str, received: &str) -> Error {
  let message = format!("The argument '{name}' {reason}. Received {received}");
  build(env, Class::Type, "ERR_INVALID_ARG_VALUE", message, &[])
}

/// An error with a mapshare code (`ERR_MAPSHARE_*`) and a message.
pub fn coded(env: &Env, code: &str, message: impl Into<String>) -> Error {
  build(env, Class::Error, code, message.into(), &[])
}

/// A `TypeError` with Node's `code` (the URL errors of `fileURLToPath`).
pub fn typed(env: &Env, code: &str, message: impl Into<String>) -> Error {
  build(env, Class::Type, code, message.into(), &[])
}

/// `RangeError [ERR_MAPSHARE_UNALIGNED]`: an offset that is not a multiple of what it needs.
pub fn unaligned(env: &Env, message: impl Into<String>) -> Error {
  build(env, Class::Range, "ERR_MAPSHARE_UNALIGNED", message.into(), &[])
}

/// Extension: `result.js(env)?` turns a core result into a napi result with a JS error.
pub trait JsResult<T> {
  fn js(self, env: &Env) -> napi::Result<T>;
}

impl<T> JsResult<T> for Result<T, CoreError> {
  fn js(self, env: &Env) -> napi::Result<T> {
    self.map_err(|e| to_js(env, e))
  }
}

/// A Rust panic caught at the boundary (a bug in mapshare): `ERR_MAPSHARE_INTERNAL`, never a crash.
pub fn internal(env: &Env, payload: Box<dyn std::any::Any + Send>) -> Error {
  let what = payload
    .downcast_ref::<String>()
    .cloned()
    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
    .unwrap_or_else(|| "unknown panic".into());
  coded(env, "ERR_MAPSHARE_INTERNAL", format!("internal error in mapshare (please report it): {what}"))
}

/// `ERR_MAPSHARE_INTERNAL` for a broken internal contract (not a panic).
pub fn internal_message(env: &Env, what: String) -> Error {
  coded(env, "ERR_MAPSHARE_INTERNAL", format!("internal error in mapshare (please report it): {what}"))
}

/// `TypeError [ERR_ILLEGAL_CONSTRUCTOR]: Illegal constructor`, as Node throws for its own classes.
pub fn illegal_constructor(env: &Env, class: &str, use_instead: &str) -> Error {
  let message =
    format!("Illegal constructor: {class} has no public constructor; {use_instead} make instances");
  build(env, Class::Type, "ERR_ILLEGAL_CONSTRUCTOR", message, &[])
}
