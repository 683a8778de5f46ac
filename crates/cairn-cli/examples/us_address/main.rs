//! What the `us_address` data migration makes of addresses:
//!
//! ```text
//! cargo run -p cairn-cli --example us_address -- "123 Main St, New York, NY 10001" "PO Box"
//! ```
//!
//! prints, for each argument, the columns a backfill would write, or the
//! reason it would reject the row. A program that runs Cairn registers it
//! before applying migrations:
//!
//! ```text
//! migrator.register_data_migration("us_address", UsAddress::default());
//! ```

mod data_migration;

use cairn::backfill::{DataMigration as _, Transform};
use data_migration::UsAddress;

fn main() {
    let addresses: Vec<String> = std::env::args().skip(1).collect();
    if addresses.is_empty() {
        eprintln!("usage: us_address <address>...  (e.g. \"123 Main St, New York, NY 10001\")");
        std::process::exit(2);
    }
    let migration = UsAddress::default();
    for address in addresses {
        match migration.transform(&[Some(address.clone())]) {
            Transform::Write(columns) => {
                println!("{address}");
                for (column, value) in columns {
                    println!("  {column} = {}", value.unwrap_or_default());
                }
            }
            Transform::Unchanged => println!("{address}\n  unchanged"),
            Transform::Reject(reason) => println!("{address}\n  rejected: {reason}"),
        }
    }
}
