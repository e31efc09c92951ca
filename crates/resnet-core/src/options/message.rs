//! The one shape of every option message: "Expected <what> for <name> but received <value>".
use crate::error::Error;
use serde_json::Value;

/// The ERR_INVALID_OPTION every option check raises.
pub fn invalid(expected: &str, name: &str, received: &str) -> Error {
    Error::InvalidOption(format!("Expected {expected} for {name} but received {received}"))
}

/// A value as a message shows it: strings quoted, arrays by length, as JavaScript users read.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::String(_) | Value::Bool(_) => value.to_string(),
        Value::Number(number) => number.as_f64().map_or_else(|| number.to_string(), |n| n.to_string()),
        Value::Array(items) => format!("an array of length {}", items.len()),
        Value::Object(_) => "an object".into(),
    }
}
