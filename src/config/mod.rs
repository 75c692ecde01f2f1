//! Configuration: the schema (`schema`), its validated value types (`types`), the
//! `CLAUSTER_*` overrides (`env`) and the loader (`load`).

pub mod env;
pub mod load;
pub mod schema;
pub mod types;

pub use load::{ConfigError, Inputs, Loaded, Source, load};
pub use schema::Config;
