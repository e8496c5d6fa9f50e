//! The pages: the dashboard at `/` and a run's page at `/runs/{id}`.

pub mod dashboard;
pub mod run;
