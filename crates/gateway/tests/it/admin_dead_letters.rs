//! Dead letters: listed and replayed through the admin API.
