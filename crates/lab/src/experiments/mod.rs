//! One module per experiment; each returns an [`ExperimentResult`](crate::ExperimentResult).

pub mod construct_bridge;
pub mod plan_extractors;
pub mod plan_spurious;
pub mod planning;
pub mod reach_capacity;
pub mod reach_steps;
pub mod shortcut_audit;
pub mod trained;
pub mod union_states;
