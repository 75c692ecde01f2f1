//! Reading JSON request bodies: one place for the 422s every handler needs ("the body
//! must be a JSON object", "body must include a 'x' string", "x must be a string").

use serde_json::{Map, Value};

use super::error::ApiError;

/// A JSON body that is an object.
pub struct Body<'a>(&'a Map<String, Value>);

impl<'a> Body<'a> {
    pub fn new(v: &'a Value) -> Result<Body<'a>, ApiError> {
        v.as_object().map(Body).ok_or_else(|| ApiError::unprocessable("the body must be a JSON object"))
    }

    /// A string field that must be present (it may be empty).
    pub fn string(&self, k: &str) -> Result<String, ApiError> {
        self.0
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ApiError::unprocessable(format!("body must include a '{k}' string")))
    }

    /// A string field that must be present and not empty (a name, a URL).
    pub fn required(&self, k: &str) -> Result<String, ApiError> {
        self.string(k)
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::unprocessable(format!("body must include a '{k}' string")))
    }

    /// A string field that may be absent or null.
    pub fn optional(&self, k: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::unprocessable(format!("{k} must be a string"))),
        }
    }

    pub fn get(&self, k: &str) -> Option<&'a Value> {
        self.0.get(k)
    }
}
