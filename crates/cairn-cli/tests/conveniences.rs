//! The conveniences of the command line, end to end on SQLite: shell
//! completions and the manual page, `.env`, `CAIRN_*` variables for every
//! `cairn.toml` key, and what progress output leaves alone.

use crate::cli::Project;

/// Every subcommand of `cairn --help`, read from the help itself.
fn subcommands(p: &Project) -> Vec<String> {
    let run = p.cairn(&["--help"]);
    run.code(0);
    let commands = run
        .stdout
        .split_once("Commands:\n")
        .expect("a Commands: section")
        .1;
    commands
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn completions_for_bash_zsh_and_fish_name_every_subcommand() {
    let p = Project::new();
    let names = subcommands(&p);
    assert!(names.len() > 15, "{names:?}");
    for name in ["up", "down", "verify", "completions", "man"] {
        assert!(names.iter().any(|n| n == name), "{names:?}");
    }
    // Neither a broken cairn.toml nor a broken .env stops a shell from loading them.
    p.write("cairn.toml", "not toml\n");
    p.write(".env", "not a line\n");
    for (shell, marker) in [
        ("bash", "complete -F _cairn"),
        ("zsh", "#compdef cairn"),
        ("fish", "complete -c cairn"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[cairn]"),
    ] {
        let run = p.cairn(&["completions", shell]);
        run.code(0).stdout_has(marker).stdout_has("--database-url");
        for name in &names {
            run.stdout_has(name);
        }
    }
    p.cairn(&["completions", "tcsh"])
        .code(2)
        .stderr_has("possible values");
    assert!(!p.path("cairn.db").exists());
}

#[test]
fn man_prints_the_manual_page() {
    let p = Project::new();
    let run = p.cairn(&["man"]);
    run.code(0)
        .stdout_has(".TH cairn 1")
        .stdout_has("Exit codes")
        .stdout_has("completions");
}

/// The database a `status --format json` run reports.
fn database(p: &Project, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut argv = args.to_vec();
    argv.extend(["status", "--format", "json"]);
    let json = p.cairn_env(&argv, env).code(0).json();
    json["database"].as_str().expect("database").to_owned()
}

#[test]
fn dotenv_is_under_the_flags_and_the_environment_and_over_cairn_toml() {
    let p = Project::new();
    p.three_migrations();
    assert_eq!(database(&p, &[], &[]), "sqlite://cairn.db", "the default");
    p.write("cairn.toml", "database_url = \"sqlite://toml.db\"\n");
    assert_eq!(database(&p, &[], &[]), "sqlite://toml.db");
    p.write(
        ".env",
        "# for development\nCAIRN_DATABASE_URL=sqlite://dotenv.db\nexport CAIRN_HISTORY_TABLE=\"dotenv_history\"\n",
    );
    assert_eq!(database(&p, &[], &[]), "sqlite://dotenv.db");
    let real = [("CAIRN_DATABASE_URL", "sqlite://real.db")];
    assert_eq!(database(&p, &[], &real), "sqlite://real.db");
    assert_eq!(
        database(&p, &["--database-url", "sqlite://flag.db"], &real),
        "sqlite://flag.db"
    );
    assert_eq!(database(&p, &["--no-dotenv"], &[]), "sqlite://toml.db");

    // Any key, not just the URL: the history table comes from .env too.
    p.cairn(&["up"]).code(0).stdout_has("applied 3 index_posts");
    assert!(p
        .tables_in("dotenv.db")
        .contains(&"dotenv_history".to_owned()));
    assert!(!p.path("toml.db").exists());
}

#[test]
fn a_password_from_dotenv_is_never_printed() {
    let p = Project::new();
    p.three_migrations();
    p.write(".env", "DATABASE_URL=postgres://u:hunter2@127.0.0.1:1/db\n");
    for args in [
        &["status"][..],
        &["-vvv", "up"],
        &["up", "--format", "json"],
    ] {
        p.cairn(args)
            .code(1)
            .stderr_has("postgres://u:***@127.0.0.1:1/db")
            .nowhere("hunter2");
    }
}

#[test]
fn a_bad_dotenv_line_is_named_without_its_text_and_changes_nothing() {
    let p = Project::new();
    p.three_migrations();
    p.write(
        ".env",
        "CAIRN_LOCK_WAIT=5s\nDATABASE_URL postgres://u:hunter2@h/db\n",
    );
    p.cairn(&["up"])
        .code(1)
        .stderr_has("`.env` line 2: not a `NAME=value` line")
        .stderr_has("--no-dotenv")
        .nowhere("hunter2");
    assert!(!p.path("cairn.db").exists(), "nothing ran");
    p.cairn(&["--no-dotenv", "up"])
        .code(0)
        .stdout_has("applied 3 index_posts");
}

#[test]
fn cairn_variables_win_over_cairn_toml() {
    let p = Project::new();
    p.write(
        "cairn.toml",
        "migrations_dir = \"db\"\nhistory_table = \"toml_history\"\n",
    );
    p.write(
        "elsewhere/1_create_users/up.sql",
        "CREATE TABLE users (id INTEGER);\n",
    );
    let env = [
        ("CAIRN_MIGRATIONS_DIR", "elsewhere"),
        ("CAIRN_HISTORY_TABLE", "env_history"),
    ];
    p.cairn_env(&["up"], &env)
        .code(0)
        .stdout_has("applied 1 create_users");
    assert_eq!(p.tables(), ["env_history", "env_history_log", "users"]);

    p.cairn_env(&["status"], &[("CAIRN_LOCK_RETRIES", "lots")])
        .code(1)
        .stderr_has("CAIRN_LOCK_RETRIES is `lots`, which is not a whole number");
    p.cairn_env(&["up"], &[("CAIRN_ALLOW_OUT_OF_ORDER", "perhaps")])
        .code(1)
        .stderr_has("CAIRN_ALLOW_OUT_OF_ORDER");
}

#[test]
fn progress_is_plain_lines_off_a_terminal_and_nothing_in_json() {
    let p = Project::new();
    for version in 1..=30 {
        p.migration(
            version,
            &format!("table_{version}"),
            &format!("CREATE TABLE t{version} (id INTEGER);\n"),
            Some(&format!("DROP TABLE t{version};\n")),
        );
    }
    // A line for every step (the interval is 2s otherwise: a quick run
    // writes none), on stderr; stdout keeps the report.
    let every = [("CAIRN_PROGRESS_INTERVAL", "0s")];
    let run = p.cairn_env(&["up", "--to", "20"], &every);
    run.code(0)
        .stdout_has("20 migrations applied")
        .stderr_has("applying 1/20 1 table_1 (")
        .stderr_has("applying 20/20 20 table_20 (");
    assert!(!run.stdout.contains("applying 1/20"), "{}", run.stdout);
    assert!(!run.stderr.contains('\r'), "no bar off a terminal");
    let run = p.cairn_env(&["down", "--steps", "2"], &every);
    run.code(0).stderr_has("rolling back 2/2 19 table_19");

    let run = p.cairn_env(&["up", "--format", "json"], &every);
    let json = run.code(0).json();
    assert_eq!(json["migrations"].as_array().map(Vec::len), Some(12));
    assert!(!run.stderr.contains("applying"), "{}", run.stderr);
    let run = p.cairn_env(&["down", "--all", "--format", "json"], &every);
    run.code(0);
    assert!(!run.stderr.contains("rolling back"), "{}", run.stderr);

    // verify too, on its scratch database.
    let run = p.cairn_env(
        &[
            "--database-url",
            "sqlite://scratch.db",
            "verify",
            "--to",
            "3",
        ],
        &every,
    );
    run.code(0).stderr_has("verifying 3/3 3 table_3");
}

/// Runs `cairn <args>` on a pseudo-terminal (util-linux `script`), stdout and
/// stderr both, and returns what the terminal got.
#[cfg(target_os = "linux")]
fn on_a_terminal(p: &Project, args: &str, env: &[(&str, &str)]) -> String {
    let cairn = env!("CARGO_BIN_EXE_cairn");
    let output = std::process::Command::new("script")
        .args(["-qec", &format!("{cairn} {args}"), "/dev/null"])
        .current_dir(p.path(""))
        .env_remove("CAIRN_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("this test runs cairn on a pseudo-terminal with `script` from util-linux, which cannot be started ({e}): install util-linux")
        });
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "cairn {args} failed:\n{text}");
    text
}

#[cfg(target_os = "linux")]
#[test]
fn on_a_terminal_a_bar_is_drawn_and_no_color_is_honoured() {
    let p = Project::new();
    for version in 1..=30 {
        p.migration(
            version,
            &format!("table_{version}"),
            &format!("CREATE TABLE t{version} (id INTEGER);\n"),
            Some(&format!("DROP TABLE t{version};\n")),
        );
    }
    let shown = on_a_terminal(&p, "up --to 20", &[]);
    assert!(shown.contains("applying ["), "{shown:?}");
    assert!(shown.contains("] 0/20  0s 1 table_1"), "{shown:?}");
    assert!(
        shown.contains("\x1b[32mapplied\x1b[0m 1 table_1"),
        "coloured: {shown:?}"
    );
    // The bar is cleared before the report.
    let report = &shown[shown.find("applied").expect("the report")..];
    assert!(!report.contains("applying ["), "{report:?}");
    assert!(report.contains("20 migrations applied"), "{report:?}");

    let shown = on_a_terminal(&p, "down --all", &[("NO_COLOR", "1")]);
    assert!(shown.contains("rolling back ["), "{shown:?}");
    assert!(shown.contains("rolled back 1 table_1"), "{shown:?}");
    assert!(
        !shown.contains("\x1b[3"),
        "no colour with NO_COLOR: {shown:?}"
    );

    let shown = on_a_terminal(&p, "up --format json", &[]);
    assert!(!shown.contains("applying"), "{shown:?}");
    assert!(!shown.contains('\x1b'), "{shown:?}");
}

/// On a server: the URL comes from `.env` (beside a `cairn.toml` without
/// one), the history table from a real `CAIRN_*` variable, and the run
/// applies where they say.
async fn dotenv_and_variables_reach_the_server(db: cairn_testkit::TestDatabase) {
    let dir = db.scratch_dir().join("conveniences");
    std::fs::create_dir_all(dir.join("migrations/1_create_widgets")).unwrap();
    std::fs::write(
        dir.join("migrations/1_create_widgets/up.sql"),
        "CREATE TABLE widgets (id INTEGER PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::write(
        dir.join(".env"),
        format!("CAIRN_DATABASE_URL={}\n", db.url()),
    )
    .unwrap();
    std::fs::write(dir.join("cairn.toml"), "lock_retries = 2\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["up", "--format", "json"])
        .current_dir(&dir)
        .env_remove("CAIRN_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .env("CAIRN_HISTORY_TABLE", "env_history")
        .output()
        .expect("the cairn binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(json["migrations"][0]["version"], 1, "{json}");
    let mut driver = crate::support::connect(&db).await;
    for table in ["widgets", "env_history"] {
        assert!(
            cairn_testkit::conformance::table_exists(driver.as_mut(), table).await,
            "{table} is missing"
        );
    }
    assert!(
        !cairn_testkit::conformance::table_exists(driver.as_mut(), "cairn_history").await,
        "the default history table was used"
    );
}

#[tokio::test]
async fn sqlite_dotenv_and_variables_reach_the_database() {
    dotenv_and_variables_reach_the_server(cairn_testkit::TestDatabase::sqlite()).await;
}

#[cfg(feature = "servers")]
mod postgres {
    #[tokio::test]
    async fn dotenv_and_variables_reach_the_server() {
        super::dotenv_and_variables_reach_the_server(cairn_testkit::postgres::database().await)
            .await;
    }
}

#[cfg(feature = "servers")]
mod mysql {
    #[tokio::test]
    async fn dotenv_and_variables_reach_the_server() {
        super::dotenv_and_variables_reach_the_server(cairn_testkit::mysql::database().await).await;
    }
}
