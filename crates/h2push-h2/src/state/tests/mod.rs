//! Tests of the state module, one per rule, named after the RFC section they check.
