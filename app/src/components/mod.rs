//! The dashboard's parts, one module each.

pub mod charts;
pub mod exports;
pub mod header;
pub mod open_recording;
pub mod replay;
pub mod runs;
pub mod settings;
pub mod share;
pub mod start;
pub mod tiles;
pub mod timeline;
pub mod whatif;
