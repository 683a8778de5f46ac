//! The other operations, each through expand, both versions, contract, un-contract and abort.

use super::*;
