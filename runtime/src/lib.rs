//! Sandmill runtime (being written).
pub mod input;
pub mod plugin;
