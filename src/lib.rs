//! Nothing here: this package exists for the workspace-level tests in `tests/`.
