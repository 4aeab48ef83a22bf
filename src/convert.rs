//! JS arguments -> Rust values, with the errors Node's own APIs throw for bad arguments
//! (`ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE`, `ERR_INVALID_ARG_VALUE`).

use crate::error;
use crate::runtime::external;
use crate::runtime::pending::WaitOptions;
use mapshare_core::sync::FOREVER;
use mapshare_core::ExtBytes;
use napi::bindgen_prelude::{FromNapiValue, JsObjectValue, Object as JsObject};
use napi::{Env, JsValue, Result, Unknown, ValueType};
use std::time::Duration;

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// How Node describes a received value in argument errors: "type string ('x')", "undefined", ...
pub fn describe(v: &Unknown) -> String {
  match v.get_type() {
    Ok(ValueType::Undefined) => "undefined".into(),
    Ok(ValueType::Null) => "null".into(),
    Ok(ValueType::Number) => format!("type number ({})", number_text(v)),
    Ok(ValueType::String) => {
      let s =
        v.coerce_to_string().and_then(|s| s.into_utf8()).and_then(|s| s.into_owned()).unwrap_or_default();
      let shown: String = s.chars().take(28).collect();
      format!("type string ('{shown}{}')", if s.chars().count() > 28 { "..." } else { "" })
    }
    Ok(ValueType::Boolean) => format!("type boolean ({})", v.coerce_to_bool().unwrap_or(false)),
    Ok(ValueType::BigInt) => "type bigint".into(),
    Ok(ValueType::Symbol) => "type symbol".into(),
    Ok(ValueType::Function) => "function".into(),
    Ok(ValueType::Object) => "an instance of Object".into(),
    _ => "an unknown value".into(),
  }
}

fn number_text(v: &Unknown) -> String {
  let n = v.coerce_to_number().and_then(|n| n.get_double()).unwrap_or(f64::NAN);
  if n.is_nan() {
    "NaN".into()
  } else if n.is_infinite() {
    if n > 0.0 {
      "Infinity".into()
    } else {
      "-Infinity".into()
    }
  } else if n.fract() == 0.0 && n.abs() < 1e21 {
    format!("{n:.0}")
  } else {
    format!("{n}")
  }
}

fn is_nullish(v: &Option<Unknown>) -> bool {
  match v {
    None => true,
    Some(v) => matches!(v.get_type(), Ok(ValueType::Undefined) | Ok(ValueType::Null)),
  }
}

/// An optional non-negative safe integer (offsets, lengths, sizes).
pub fn opt_index(env: &Env, v: Option<Unknown>, name: &str) -> Result<Option<u64>> {
  if is_nullish(&v) {
    return Ok(None);
  }
  let v = v.expect("checked above");
  if v.get_type()? != ValueType::Number {
    return Err(error::arg_type(env, name, "of type number", &describe(&v)));
  }
  let n = f64::from_unknown(v)?;
  if !(n.fract() == 0.0 && (0.0..=MAX_SAFE).contains(&n)) {
    return Err(error::out_of_range(env, name, "an integer >= 0 && <= 9007199254740991", &number_text(&v)));
  }
  Ok(Some(n as u64))
}

/// A required non-negative safe integer.
pub fn index(env: &Env, v: Option<Unknown>, name: &str) -> Result<u64> {
  if is_nullish(&v) {
    let received = v.as_ref().map_or_else(|| "undefined".into(), describe);
    return Err(error::arg_type(env, name, "of type number", &received));
  }
  Ok(opt_index(env, v, name)?.expect("not nullish"))
}

/// An optional integer in `[min, max]` (modes, file descriptors).
pub fn opt_int(env: &Env, v: Option<Unknown>, name: &str, min: i64, max: i64) -> Result<Option<i64>> {
  if is_nullish(&v) {
    return Ok(None);
  }
  let v = v.expect("checked above");
  if v.get_type()? != ValueType::Number {
    return Err(error::arg_type(env, name, "of type number", &describe(&v)));
  }
  let n = f64::from_unknown(v)?;
  if !(n.fract() == 0.0 && n >= min as f64 && n <= max as f64) {
    return Err(error::out_of_range(
      env,
      name,
      &format!("an integer >= {min} && <= {max}"),
      &number_text(&v),
    ));
  }
  Ok(Some(n as i64))
}

pub fn opt_bool(env: &Env, v: Option<Unknown>, name: &str) -> Result<Option<bool>> {
  if is_nullish(&v) {
    return Ok(None);
  }
  let v = v.expect("checked above");
  if v.get_type()? != ValueType::Boolean {
    return Err(error::arg_type(env, name, "of type boolean", &describe(&v)));
  }
  Ok(Some(v.coerce_to_bool()?))
}

pub fn opt_string(env: &Env, v: Option<Unknown>, name: &str) -> Result<Option<String>> {
  if is_nullish(&v) {
    return Ok(None);
  }
  let v = v.expect("checked above");
  if v.get_type()? != ValueType::String {
    return Err(error::arg_type(env, name, "of type string", &describe(&v)));
  }
  Ok(Some(v.coerce_to_string()?.into_utf8()?.into_owned()?))
}

/// A file path as `fs` takes it: a string, a `Buffer` (its bytes, which must be UTF-8 here) or a
/// `file:` URL; non-empty, without NUL bytes.
pub fn path(env: &Env, v: Option<Unknown>, name: &str) -> Result<String> {
  const EXPECTED: &str = "of type string or an instance of Buffer or URL";
  let Some(v) = v.filter(|v| !matches!(v.get_type(), Ok(ValueType::Undefined))) else {
    return Err(error::arg_type(env, name, EXPECTED, "undefined"));
  };
  let s = match v.get_type()? {
    ValueType::String => v.coerce_to_string()?.into_utf8()?.into_owned()?,
    ValueType::Object => {
      if let Some(bytes) = external::uint8_bytes(env, &v)? {
        String::from_utf8(bytes).map_err(|_| {
          error::arg_value(
            env,
            name,
            "must be UTF-8 bytes (mapshare passes paths to the OS as UTF-8)",
            &describe(&v),
          )
        })?
      } else if external::instance_of_global(env, &v, "URL")? {
        file_url_path(env, &v)?
      } else {
        return Err(error::arg_type(env, name, EXPECTED, &describe(&v)));
      }
    }
    _ => return Err(error::arg_type(env, name, EXPECTED, &describe(&v))),
  };
  if s.contains('\0') {
    return Err(error::arg_value(
      env,
      name,
      "must be a string without null bytes",
      &format!("'{}'", s.replace('\0', "\\x00")),
    ));
  }
  if s.is_empty() {
    return Err(error::arg_value(env, name, "must be a non-empty path", "''"));
  }
  Ok(s)
}

/// The path of a `file:` URL, as Node's `url.fileURLToPath` gives it (with its error codes).
fn file_url_path(env: &Env, url: &Unknown) -> Result<String> {
  let obj = JsObject::from_unknown(*url)?;
  let field = |key: &str| -> Result<String> { obj.get_named_property::<String>(key) };
  if field("protocol")? != "file:" {
    return Err(error::typed(env, "ERR_INVALID_URL_SCHEME", "The URL must be of scheme file"));
  }
  let host = field("hostname")?;
  let pathname = field("pathname")?;
  let lower = pathname.to_ascii_lowercase();
  if lower.contains("%2f") || (cfg!(windows) && lower.contains("%5c")) {
    return Err(error::typed(
      env,
      "ERR_INVALID_FILE_URL_PATH",
      "File URL path must not include encoded / characters",
    ));
  }
  if !cfg!(windows) && !host.is_empty() && host != "localhost" {
    return Err(error::typed(
      env,
      "ERR_INVALID_FILE_URL_HOST",
      format!("File URL host must be \"localhost\" or empty on {}", std::env::consts::OS),
    ));
  }
  let decoded = percent_decode(&pathname).ok_or_else(|| {
    error::typed(env, "ERR_INVALID_FILE_URL_PATH", "File URL path must be UTF-8 once percent-decoded")
  })?;
  if cfg!(windows) {
    // "/C:/dir/file" -> "C:\dir\file"; a host is a UNC share: "\\host\share\file".
    let p = decoded.replace('/', "\\");
    if !host.is_empty() {
      return Ok(format!("\\\\{host}{p}"));
    }
    return Ok(p.strip_prefix('\\').map(str::to_owned).unwrap_or(p));
  }
  Ok(decoded)
}

/// `%XX` sequences to bytes, read as UTF-8; `None` if they are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
  let b = s.as_bytes();
  let mut out = Vec::with_capacity(b.len());
  let mut i = 0;
  while i < b.len() {
    let hex = |c: u8| (c as char).to_digit(16);
    match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
      (b'%', Some(h), Some(l)) => {
        out.push((h * 16 + l) as u8);
        i += 3;
      }
      (c, _, _) => {
        out.push(c);
        i += 1;
      }
    }
  }
  String::from_utf8(out).ok()
}

/// An options object; `undefined`/`null` mean none.
pub fn options<'env>(
  env: &Env,
  v: Option<Unknown<'env>>,
  name: &str,
  known: &[&str],
) -> Result<Option<JsObject<'env>>> {
  if is_nullish(&v) {
    return Ok(None);
  }
  let v = v.expect("checked above");
  if v.get_type()? != ValueType::Object || external::view_bytes(env, &v)?.is_some() {
    return Err(error::arg_type(env, name, "of type object", &describe(&v)));
  }
  let obj = v.coerce_to_object()?;
  check_keys(env, &obj, name, known)?;
  Ok(Some(obj))
}

/// An own enumerable key of `obj` that is not one of `known` is `ERR_INVALID_ARG_VALUE`, naming it
/// and, where one is close, the key that was meant: a misspelt option must not be dropped silently.
fn check_keys(env: &Env, obj: &JsObject, name: &str, known: &[&str]) -> Result<()> {
  use napi::bindgen_prelude::{KeyCollectionMode, KeyConversion, KeyFilter};
  let keys = obj.get_all_property_names(
    KeyCollectionMode::OwnOnly,
    KeyFilter::SkipSymbols,
    KeyConversion::NumbersToStrings,
  )?;
  for i in 0..keys.get_array_length()? {
    let key: String = keys.get_element(i)?;
    if known.contains(&key.as_str()) {
      continue;
    }
    let hint = closest(&key, known).map_or(String::new(), |k| format!(" (did you mean '{k}'?)"));
    let reason = format!("is not an option here{hint}; the options are {}", known.join(", "));
    return Err(error::arg_value(env, &format!("{name}.{key}"), &reason, &format!("'{key}'")));
  }
  Ok(())
}

/// The known key nearest to `key` (edit distance at most a third of its length, and at least 1).
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
  let lower = key.to_ascii_lowercase();
  known
    .iter()
    .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), *k))
    .filter(|(d, _)| *d <= (key.len() / 3).max(1))
    .min_by_key(|(d, _)| *d)
    .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
  let b: Vec<char> = b.chars().collect();
  let mut row: Vec<usize> = (0..=b.len()).collect();
  for (i, ca) in a.chars().enumerate() {
    let mut prev = row[0];
    row[0] = i + 1;
    for (j, cb) in b.iter().enumerate() {
      let next = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(row[j + 1] + 1);
      prev = row[j + 1];
      row[j + 1] = next;
    }
  }
  row[b.len()]
}

/// Reads `obj[key]` (undefined when there is no object).
pub fn field<'env>(obj: &Option<JsObject<'env>>, key: &str) -> Result<Option<Unknown<'env>>> {
  match obj {
    None => Ok(None),
    Some(o) => Ok(Some(o.get_named_property::<Unknown>(key)?)),
  }
}

/// Bytes to copy in: owned (an encoded string) or a JS view, which may alias a region.
pub enum Data {
  Owned(Vec<u8>),
  View(ExtBytes),
}

/// Bytes to copy in: a string (UTF-8), a Buffer/typed array/DataView, or an ArrayBuffer.
pub fn source_bytes(env: &Env, v: Option<Unknown>, name: &str) -> Result<Data> {
  let received = v.as_ref().map_or_else(|| "undefined".into(), describe);
  let expected = "of type string or an instance of Buffer, TypedArray, DataView or ArrayBuffer";
  let Some(v) = v else { return Err(error::arg_type(env, name, expected, &received)) };
  if v.get_type()? == ValueType::String {
    return Ok(Data::Owned(v.coerce_to_string()?.into_utf8()?.into_owned()?.into_bytes()));
  }
  match external::view_bytes(env, &v)? {
    Some(bytes) => Ok(Data::View(bytes)),
    None => Err(error::arg_type(env, name, expected, &received)),
  }
}

/// A writable target: a Buffer, typed array, DataView or ArrayBuffer.
pub fn target_bytes(env: &Env, v: Option<Unknown>, name: &str) -> Result<ExtBytes> {
  let received = v.as_ref().map_or_else(|| "undefined".into(), describe);
  let expected = "an instance of Buffer, TypedArray, DataView or ArrayBuffer";
  let Some(v) = v else { return Err(error::arg_type(env, name, expected, &received)) };
  match external::view_bytes(env, &v)? {
    Some(bytes) => Ok(bytes),
    None => Err(error::arg_type(env, name, expected, &received)),
  }
}

/// A timeout in milliseconds: undefined, `Infinity` or anything beyond a century waits forever.
pub fn timeout(env: &Env, v: Option<Unknown>, name: &str) -> Result<Option<Duration>> {
  let Some(v) = v else { return Ok(None) };
  match v.get_type()? {
    ValueType::Undefined => return Ok(None),
    ValueType::Number => {}
    _ => return Err(error::arg_type(env, name, "of type number", &describe(&v))),
  }
  let ms = f64::from_unknown(v)?;
  if ms.is_nan() || ms < 0.0 {
    return Err(error::out_of_range(env, name, ">= 0 (milliseconds) or Infinity", &describe(&v)));
  }
  if ms > FOREVER.as_millis() as f64 {
    return Ok(None);
  }
  Ok(Some(Duration::from_nanos((ms * 1e6) as u64)))
}

/// The options of an async wait, `{ timeout?, signal? }` (`waitAsync`, `lockAsync`).
pub fn wait_options<'env>(env: &Env, value: Option<Unknown<'env>>) -> Result<WaitOptions<'env>> {
  let opts = options(env, value, "options", &["timeout", "signal"])?;
  let timeout = timeout(env, field(&opts, "timeout")?, "options.timeout")?;
  let signal = match field(&opts, "signal")? {
    Some(s) if !matches!(s.get_type()?, ValueType::Undefined) => Some(s),
    _ => None,
  };
  let signal = match signal {
    None => None,
    Some(s) => {
      let received = describe(&s);
      let not_signal = || error::arg_type(env, "options.signal", "an instance of AbortSignal", &received);
      if s.get_type()? != ValueType::Object {
        return Err(not_signal());
      }
      let obj = s.coerce_to_object()?;
      // An AbortSignal has both; an AbortController (a common mistake) has neither.
      let add: Unknown = obj.get_named_property("addEventListener")?;
      let remove: Unknown = obj.get_named_property("removeEventListener")?;
      let aborted: Unknown = obj.get_named_property("aborted")?;
      if add.get_type()? != ValueType::Function
        || remove.get_type()? != ValueType::Function
        || aborted.get_type()? != ValueType::Boolean
      {
        return Err(not_signal());
      }
      Some(obj)
    }
  };
  Ok(WaitOptions { timeout, signal })
}
