//! Faults: the server ends the migrating session (`KILL`, a restart, a
//! dropped network) during a migration or between two — the testkit's fault
//! suite ([`cairn_testkit::faults`]) on MySQL/MariaDB, which run migrations
//! outside transactions: a migration cut off part way leaves its `running`
//! row, and `up --resume` on a new connection finishes it.

use cairn_testkit::faults::Server;

use super::MySql;

impl Server for MySql {
    fn session_id_query(&self) -> &'static str {
        "SELECT CONNECTION_ID()"
    }

    fn running_query(&self, id: &str, needle: &str) -> String {
        format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id} AND COMMAND = 'Query' AND LOCATE('{needle}', INFO) > 0"
        )
    }

    fn alive_query(&self, id: &str) -> String {
        format!("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id}")
    }

    fn kill_statement(&self, id: &str) -> String {
        format!("KILL {id}")
    }

    fn sleep_statement(&self, seconds: u32) -> String {
        format!("SELECT SLEEP({seconds})")
    }

    /// The server closes the socket ("connection to the server lost"); some
    /// servers first send error 1927 "Connection was killed".
    fn says_killed(&self, message: &str) -> bool {
        let message = message.to_lowercase();
        message.contains("connection to the server lost")
            || message.contains("connection was killed")
    }

    fn says_gone(&self, message: &str) -> bool {
        self.says_killed(message)
    }
}

cairn_testkit::fault_tests!(MySql);
