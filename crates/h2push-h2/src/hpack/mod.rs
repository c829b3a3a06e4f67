//! placeholder: replaced by the hpack work
