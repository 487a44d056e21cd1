//! The pure core: parsing, naming, ownership and planning, with no actors and no I/O.
//!
//! Everything here is plain functions and types, unit-tested without a runtime. The actors call into it.

pub mod address;
pub mod claim;
pub mod desired;
pub mod events;
pub mod instance;
pub mod introspection;
pub mod journal;
pub mod lifecycle;
pub mod listing;
pub mod naming;
pub mod network;
pub mod ownership;
pub mod plan;
pub mod port;
pub mod record;
pub mod scan;
pub mod schedule;
