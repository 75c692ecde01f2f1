//! A found element and the commands on it, each returning [`WdResult`] so tests can use
//! them inside [`Browser::wait_for`] closures (`.ok()?`).

use serde_json::{Value, json};

use super::driver::{Browser, ELEMENT_KEY};
use super::wire::WdResult;

/// A found element; valid until the page re-renders it away (then its methods fail with
/// `stale element reference`).
pub struct Element<'a> {
    pub(super) b: &'a Browser,
    pub id: String,
}

impl Element<'_> {
    fn path(&self, tail: &str) -> String {
        format!("/element/{}{tail}", self.id)
    }

    /// This element as a script argument.
    pub fn json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    pub fn click(&self) -> WdResult<()> {
        self.b.cmd("POST", &self.path("/click"), None).map(drop)
    }

    pub fn send_keys(&self, text: &str) -> WdResult<()> {
        self.b.cmd("POST", &self.path("/value"), Some(json!({ "text": text }))).map(drop)
    }

    pub fn clear(&self) -> WdResult<()> {
        self.b.cmd("POST", &self.path("/clear"), None).map(drop)
    }

    pub fn text(&self) -> WdResult<String> {
        Ok(self.b.cmd("GET", &self.path("/text"), None)?.as_str().unwrap_or_default().to_string())
    }

    pub fn attr(&self, name: &str) -> WdResult<Option<String>> {
        Ok(self.b.cmd("GET", &self.path(&format!("/attribute/{name}")), None)?.as_str().map(str::to_string))
    }

    pub fn prop(&self, name: &str) -> WdResult<Value> {
        self.b.cmd("GET", &self.path(&format!("/property/{name}")), None)
    }

    pub fn displayed(&self) -> WdResult<bool> {
        Ok(self.b.cmd("GET", &self.path("/displayed"), None)? == json!(true))
    }

    pub fn enabled(&self) -> WdResult<bool> {
        Ok(self.b.cmd("GET", &self.path("/enabled"), None)? == json!(true))
    }

    pub fn find(&self, css: &str) -> WdResult<Option<Element<'_>>> {
        match self.b.cmd("POST", &self.path("/element"), Some(json!({"using": "css selector", "value": css}))) {
            Ok(v) => Ok(Some(self.b.element(&v))),
            Err(e) if e.error == "no such element" => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn find_all(&self, css: &str) -> WdResult<Vec<Element<'_>>> {
        let v = self.b.cmd("POST", &self.path("/elements"), Some(json!({"using": "css selector", "value": css})))?;
        Ok(v.as_array().map(|a| a.iter().map(|v| self.b.element(v)).collect()).unwrap_or_default())
    }
}
