//! placeholder: replaced by the priority work
