//! The `embed_migrations!` macro of Cairn. Use it through the facade,
//! `cairn::embed_migrations!`, whose documentation is the user guide
//! (`docs/embedding.md`).
//!
//! **How it works.** At compile time the macro reads the migrations directory
//! with [`cairn_core::source::read_dir`], the listing the CLI uses, so every
//! layout Cairn reads embeds, and any problem the CLI would report becomes a
//! compile error with the same message (file and line). It then embeds each
//! file the listing reads with `include_str!` — so editing a file rebuilds the
//! crate — and checks, still at compile time, that
//! [`cairn_core::source::read_files`] (what the binary runs at start-up over
//! the embedded texts) gives exactly the same migrations.
//!
//! Adding or removing a file is not seen by a proc macro on stable Rust:
//! `cairn-build`'s `rerun_if_migrations_change` in a build script covers it.
//!
//! The macro is written on `proc_macro` alone (no `syn`, no `quote`): its
//! input is one string literal and its output one expression.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use proc_macro::{Delimiter, Literal, TokenStream, TokenTree};

/// The directory used when the macro is called without an argument.
const DEFAULT_DIR: &str = "migrations";

/// Embeds a migrations directory in the binary.
///
/// ```text
/// static MIGRATIONS: cairn::embed::EmbeddedMigrations = cairn::embed_migrations!("migrations");
///
/// let migrator = MIGRATIONS.migrator(cairn::MigratorOptions::default())?;
/// ```
///
/// - The argument is the directory relative to the crate's `Cargo.toml`
///   (one string literal, raw or not); without one, `"migrations"`.
/// - The expansion is a `const` expression of type
///   `cairn::embed::EmbeddedMigrations` (see its documentation, whose example
///   is compiled and run).
/// - Any problem `cairn validate` would report (a bad directive, a file that
///   fits no layout, a duplicate version, a missing directory) is a compile
///   error with the same message, naming the file and line.
/// - Editing a file rebuilds the crate; for a file added or removed, call
///   `cairn_build::rerun_if_migrations_change("migrations")` from `build.rs`.
///
/// The guide is `docs/embedding.md` in Cairn's repository.
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    let code = match expand(input) {
        Ok(code) => code,
        Err(message) => compile_error(&message),
    };
    code.parse().unwrap_or_else(|error| {
        compile_error(&format!("internal error: {error}"))
            .parse()
            .unwrap_or_default()
    })
}

/// The expansion as Rust source, or the message of a compile error.
fn expand(input: TokenStream) -> Result<String, String> {
    let written = directory_argument(input)?;
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").ok_or_else(|| {
        format!("cairn::embed_migrations!({written:?}): CARGO_MANIFEST_DIR is not set; build with cargo, which sets it")
    })?;
    let dir = Path::new(&manifest_dir).join(&written);
    let context = format!("cairn::embed_migrations!({written:?})");

    let on_disk = cairn_core::source::read_dir(&dir).map_err(|error| {
        format!("{context}: {error}\n(the directory is read at compile time as `cairn validate` reads it: fix the file and build again)")
    })?;

    let files = embedded_files(&dir).map_err(|message| format!("{context}: {message}"))?;
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|file| (file.relative.as_str(), file.text.as_str()))
        .collect();
    match cairn_core::source::read_files(&dir, &pairs) {
        Ok(in_memory) if in_memory == on_disk => {}
        Ok(_) => {
            return Err(format!(
                "{context}: internal error: the embedded files of `{}` assemble into other migrations than the directory does; please report this to Cairn",
                dir.display()
            ))
        }
        Err(error) => {
            return Err(format!(
                "{context}: internal error: the embedded files do not read as the directory does ({error}); please report this to Cairn"
            ))
        }
    }

    let mut code = String::from("::cairn::embed::EmbeddedMigrations::__new(");
    write!(code, "{written:?}, &[").map_err(|e| e.to_string())?;
    for file in &files {
        let absolute = file.absolute.to_str().ok_or_else(|| {
            format!(
                "{context}: the path `{}` is not valid UTF-8, so it cannot be embedded: rename it",
                file.absolute.display()
            )
        })?;
        write!(
            code,
            "({:?}, ::core::include_str!({:?})),",
            file.relative, absolute
        )
        .map_err(|e| e.to_string())?;
    }
    code.push_str("])");
    Ok(code)
}

/// One file of the migrations directory that the listing reads.
struct EmbeddedFile {
    /// `/`-separated, relative to the directory.
    relative: String,
    absolute: PathBuf,
    text: String,
}

/// The files the listing can read: `.sql` files at the top level, and `.sql`,
/// `migration.toml` and `metadata.toml` files in the folders at the top level,
/// hidden entries left out. Nothing else is embedded (a `cairn.toml` beside the
/// migrations may hold a database password: it never enters the binary).
/// Whether that is every file that matters is checked by the caller, which
/// compares what these files assemble into with the directory read from disk.
fn embedded_files(dir: &Path) -> Result<Vec<EmbeddedFile>, String> {
    let mut files = Vec::new();
    for (name, path) in entries(dir)? {
        if path.is_dir() {
            for (inner, inner_path) in entries(&path)? {
                let read = inner == "migration.toml" || inner == "metadata.toml" || is_sql(&inner);
                if read && inner_path.is_file() {
                    push(&mut files, format!("{name}/{inner}"), inner_path);
                }
            }
        } else if is_sql(&name) && path.is_file() {
            push(&mut files, name, path);
        }
    }
    Ok(files)
}

fn is_sql(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".sql")
}

/// Adds a file if its text is UTF-8: one that is not and matters was already
/// refused by the listing, with the offset of the bad byte.
fn push(files: &mut Vec<EmbeddedFile>, relative: String, absolute: PathBuf) {
    if let Ok(text) = fs::read_to_string(&absolute) {
        files.push(EmbeddedFile {
            relative,
            absolute,
            text,
        });
    }
}

/// The entries of `dir` with UTF-8 names that are not hidden, by name.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let listing =
        fs::read_dir(dir).map_err(|error| format!("cannot list `{}`: {error}", dir.display()))?;
    let mut entries = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|error| format!("cannot list `{}`: {error}", dir.display()))?;
        if let Ok(name) = entry.file_name().into_string() {
            if !name.starts_with('.') {
                entries.push((name, entry.path()));
            }
        }
    }
    entries.sort();
    Ok(entries)
}

/// The directory the macro was given: one string literal, or nothing.
fn directory_argument(input: TokenStream) -> Result<String, String> {
    let usage = "cairn::embed_migrations! takes one string literal, the migrations directory relative to the crate's Cargo.toml, e.g. `cairn::embed_migrations!(\"migrations\")`";
    let mut tokens: Vec<TokenTree> = input.into_iter().collect();
    // A literal passed on by a `macro_rules!` arrives in an invisible group.
    while let [TokenTree::Group(group)] = tokens.as_slice() {
        if group.delimiter() != Delimiter::None {
            break;
        }
        tokens = group.stream().into_iter().collect();
    }
    match tokens.as_slice() {
        [] => Ok(DEFAULT_DIR.to_owned()),
        [TokenTree::Literal(literal)] => string_literal(literal).ok_or_else(|| usage.to_owned()),
        _ => Err(usage.to_owned()),
    }
}

/// The value of a string literal (plain or raw), or `None` for any other literal.
fn string_literal(literal: &Literal) -> Option<String> {
    let source = literal.to_string();
    if let Some(raw) = source.strip_prefix('r') {
        let hashes = raw.len() - raw.trim_start_matches('#').len();
        let body = raw.get(hashes..raw.len().checked_sub(hashes)?)?;
        return body.strip_prefix('"')?.strip_suffix('"').map(str::to_owned);
    }
    let body = source.strip_prefix('"')?.strip_suffix('"')?;
    let mut value = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        match chars.next()? {
            '\\' => value.push('\\'),
            '"' => value.push('"'),
            '\'' => value.push('\''),
            'n' => value.push('\n'),
            't' => value.push('\t'),
            'r' => value.push('\r'),
            '0' => value.push('\0'),
            // Escapes a directory name has no use for (`\x`, `\u`, line
            // continuations) are refused rather than half understood.
            _ => return None,
        }
    }
    Some(value)
}

/// A `compile_error!` with `message`, as Rust source.
fn compile_error(message: &str) -> String {
    format!("::core::compile_error!({message:?})")
}
