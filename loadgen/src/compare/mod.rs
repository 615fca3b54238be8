//! `ringload compare`: two `--json` reports of one kind of run, figure by figure, against a tolerance.

pub mod cli;
pub mod figures;
