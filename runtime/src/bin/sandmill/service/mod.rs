//! `sandmill serve`: the multi-tenant job service (`docs/service.md`).

#![allow(
    dead_code,
    reason = "the service is being assembled; every part is used once it lands"
)]

pub mod model;
pub mod ui;
