//! What a benchmark run found, and how it is shown: a table on stdout and a
//! markdown section per engine in `docs/benchmarks.md`.
//!
//! Each engine owns the part of the file between `<!-- bench:<key>:start -->`
//! and `<!-- bench:<key>:end -->`; a run rewrites only the sections it
//! measured, so the SQLite figures and, later, the PostgreSQL and MariaDB
//! ones can be refreshed independently.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::error::{BenchError, Context as _, Result};
use crate::stats::{format_duration, ratio, Samples};

/// The results for one engine.
#[derive(Clone, Debug)]
pub struct Section {
    /// The marker key: `sqlite`, later `postgres`, `mariadb`.
    pub key: &'static str,
    /// The heading.
    pub title: &'static str,
    /// Facts about the setup, one sentence each (versions, file system).
    pub setup: Vec<String>,
    /// One row per benchmark.
    pub rows: Vec<Row>,
    /// Findings below the table (markdown paragraphs).
    pub findings: Vec<String>,
}

/// One benchmark: something timed, usually beside a baseline.
#[derive(Clone, Debug)]
pub struct Row {
    /// Short name: `apply-1000`.
    pub name: String,
    /// What exactly is timed, for the notes under the table (markdown).
    pub detail: String,
    /// What is measured.
    pub subject: Measured,
    /// The baseline it is compared with, timed in the same rounds.
    pub baseline: Option<Measured>,
    /// The target, if there is one.
    pub goal: Option<Goal>,
}

/// A label and its timings.
#[derive(Clone, Debug)]
pub struct Measured {
    /// What ran, in a few words.
    pub label: String,
    /// Its times.
    pub samples: Samples,
}

/// The target a benchmark should meet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Goal {
    /// The subject's median over the baseline's at most this.
    RatioAtMost(f64),
    /// The subject's median below this.
    MedianBelow(Duration),
}

impl Goal {
    fn describe(self) -> String {
        match self {
            Goal::RatioAtMost(max) => format!("ratio ≤ {max:.2}×"),
            Goal::MedianBelow(max) => format!("median < {}", format_duration(max)),
        }
    }
}

impl Row {
    /// The subject's median over the baseline's, if there is a baseline.
    pub fn ratio(&self) -> Option<f64> {
        let baseline = self.baseline.as_ref()?;
        Some(ratio(
            self.subject.samples.median(),
            baseline.samples.median(),
        ))
    }

    /// Whether the goal is met; `None` without a goal (or a ratio goal without a baseline).
    pub fn met(&self) -> Option<bool> {
        match self.goal? {
            Goal::RatioAtMost(max) => self.ratio().map(|r| r <= max),
            Goal::MedianBelow(max) => Some(self.subject.samples.median() < max),
        }
    }

    fn cells(&self) -> [String; 8] {
        let timing = |m: &Measured| {
            let (min, max) = m.samples.range();
            format!(
                "{} ({}–{})",
                format_duration(m.samples.median()),
                format_duration(min),
                format_duration(max)
            )
        };
        [
            self.name.clone(),
            self.subject.label.clone(),
            timing(&self.subject),
            self.baseline
                .as_ref()
                .map_or_else(|| "—".to_owned(), |b| b.label.clone()),
            self.baseline
                .as_ref()
                .map_or_else(|| "—".to_owned(), timing),
            self.ratio()
                .map_or_else(|| "—".to_owned(), |r| format!("{r:.2}×")),
            self.goal.map_or_else(|| "—".to_owned(), Goal::describe),
            match self.met() {
                Some(true) => "yes".to_owned(),
                Some(false) => "**no**".to_owned(),
                None => "—".to_owned(),
            },
        ]
    }
}

const HEADERS: [&str; 8] = [
    "Benchmark",
    "Measured",
    "Median (min–max)",
    "Baseline",
    "Median (min–max)",
    "Ratio",
    "Goal",
    "Met",
];

/// The machine and moment of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// `nproc`.
    pub cpus: String,
    /// `uname -r`.
    pub kernel: String,
    /// When, `2026-11-25 10:07 UTC`.
    pub date: String,
}

impl Machine {
    /// Asks `nproc` and `uname -r`, and the clock.
    pub fn detect() -> Self {
        let run = |program: &str, args: &[&str]| {
            Command::new(program)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_else(|| "unknown".to_owned())
        };
        let now = cairn::clock::UtcTime::now();
        Machine {
            cpus: run("nproc", &[]),
            kernel: run("uname", &["-r"]),
            date: format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                now.year, now.month, now.day, now.hour, now.minute
            ),
        }
    }

    fn sentence(&self) -> String {
        format!(
            "Measured {} on {} CPUs (`nproc`), Linux {} (`uname -r`).",
            self.date, self.cpus, self.kernel
        )
    }
}

/// The section as plain text for the terminal.
pub fn text(section: &Section, machine: &Machine) -> String {
    let rows: Vec<[String; 8]> = section.rows.iter().map(Row::cells).collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for cells in &rows {
        for (width, cell) in widths.iter_mut().zip(cells) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (cell, width) in cells.iter().zip(widths) {
            let _ = write!(out, "{cell:<width$}  ");
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = format!("{}: {}\n", section.title, machine.sentence());
    if rows.is_empty() {
        // A section with a table of its own keeps it in its findings.
        for finding in &section.findings {
            let _ = writeln!(out, "{}", finding.replace("**", ""));
        }
        return out;
    }
    out.push_str(&line(&HEADERS.map(str::to_owned)));
    for cells in &rows {
        out.push_str(&line(&cells.clone().map(|c| c.replace("**", ""))));
    }
    out
}

/// The section as markdown, without its markers.
pub fn markdown(section: &Section, machine: &Machine) -> String {
    let mut out = format!("## {}\n\n{}", section.title, machine.sentence());
    for fact in &section.setup {
        out.push(' ');
        out.push_str(fact);
    }
    out.push('\n');
    // Without rows, the section's findings carry its table.
    if !section.rows.is_empty() {
        out.push('\n');
        let row = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        out.push_str(&row(&HEADERS.map(str::to_owned)));
        out.push_str("|---|---|--:|---|--:|--:|---|---|\n");
        for r in &section.rows {
            out.push_str(&row(&r.cells()));
        }
        out.push('\n');
    }
    for r in &section.rows {
        let _ = writeln!(out, "- **{}**: {}", r.name, r.detail);
    }
    for finding in &section.findings {
        let _ = write!(out, "\n{finding}\n");
    }
    out
}

/// The opening of a new benchmarks file.
pub fn intro(machine: &Machine) -> String {
    format!(
        "# Benchmarks\n\n\
         Run them with `just bench` (`cargo run --release -p cairn-bench -- --out docs/benchmarks.md`),\n\
         which builds the release `cairn` binary, runs every benchmark and rewrites the\n\
         sections below; `--quick` runs a smaller smoke version.\n\n\
         The machine is shared and noisy ({} cores, other builds running), so no figure\n\
         stands alone: each benchmark is timed in alternating rounds beside a baseline\n\
         doing the least work that achieves the same thing, and the ratio of the two\n\
         medians is what to compare across runs. No test asserts on timings.\n\n\
         This file was created {} on {} CPUs, Linux {}; each section says when and where\n\
         its figures were measured.\n",
        machine.cpus, machine.date, machine.cpus, machine.kernel
    )
}

fn markers(key: &str) -> (String, String) {
    (
        format!("<!-- bench:{key}:start -->"),
        format!("<!-- bench:{key}:end -->"),
    )
}

/// `doc` with the text between `key`'s markers replaced by `body`; the
/// markers and `body` are appended when the markers are not there yet.
pub fn replace_section(doc: &str, key: &str, body: &str) -> Result<String> {
    let (start, end) = markers(key);
    let block = format!("{start}\n{}\n{end}", body.trim_end());
    match (doc.find(&start), doc.find(&end)) {
        (Some(s), Some(e)) if s < e => Ok(format!("{}{block}{}", &doc[..s], &doc[e + end.len()..])),
        (None, None) => {
            let mut out = doc.trim_end().to_owned();
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&block);
            out.push('\n');
            Ok(out)
        }
        _ => Err(BenchError::new(format!(
            "the markers `{start}` and `{end}` must both appear, start first; fix them by hand"
        ))),
    }
}

/// Rewrites `sections` in the markdown file at `path`, creating it with an intro if missing.
pub fn write(path: &Path, machine: &Machine, sections: &[Section]) -> Result<()> {
    let mut doc = match std::fs::read_to_string(path) {
        Ok(doc) => doc,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => intro(machine),
        Err(e) => return Err(BenchError::new(format!("reading {}: {e}", path.display()))),
    };
    for section in sections {
        doc = replace_section(&doc, section.key, &markdown(section, machine))
            .context(|| format!("updating {}", path.display()))?;
    }
    std::fs::write(path, doc).context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_replaced_between_its_markers_only() {
        let doc = "# B\n\n<!-- bench:sqlite:start -->\nold\n<!-- bench:sqlite:end -->\n\
                   <!-- bench:postgres:start -->\npg\n<!-- bench:postgres:end -->\n";
        let got = replace_section(doc, "sqlite", "new\n").expect("replaces");
        assert_eq!(
            got,
            "# B\n\n<!-- bench:sqlite:start -->\nnew\n<!-- bench:sqlite:end -->\n\
             <!-- bench:postgres:start -->\npg\n<!-- bench:postgres:end -->\n"
        );
        assert_eq!(replace_section(&got, "sqlite", "new").expect("again"), got);
    }

    #[test]
    fn a_missing_section_is_appended() {
        let table = [
            (
                "",
                "<!-- bench:sqlite:start -->\nx\n<!-- bench:sqlite:end -->\n",
            ),
            (
                "# B\n\nintro\n\n",
                "# B\n\nintro\n\n<!-- bench:sqlite:start -->\nx\n<!-- bench:sqlite:end -->\n",
            ),
        ];
        for (doc, expected) in table {
            assert_eq!(
                replace_section(doc, "sqlite", "x").expect("appends"),
                expected
            );
        }
    }

    #[test]
    fn broken_markers_are_an_error() {
        for doc in [
            "<!-- bench:sqlite:start -->\nx\n",
            "x\n<!-- bench:sqlite:end -->\n",
            "<!-- bench:sqlite:end -->\n<!-- bench:sqlite:start -->\n",
        ] {
            let error = replace_section(doc, "sqlite", "y").expect_err(doc);
            assert!(error.to_string().contains("start first"), "{error}");
        }
    }

    fn samples(ms: &[u64]) -> Samples {
        let mut samples = Samples::new();
        for &v in ms {
            samples.push(Duration::from_millis(v));
        }
        samples
    }

    fn row(goal: Goal, subject: &[u64], baseline: Option<&[u64]>) -> Row {
        Row {
            name: "apply-3".to_owned(),
            detail: "three migrations".to_owned(),
            subject: Measured {
                label: "Cairn".to_owned(),
                samples: samples(subject),
            },
            baseline: baseline.map(|b| Measured {
                label: "floor".to_owned(),
                samples: samples(b),
            }),
            goal: Some(goal),
        }
    }

    #[test]
    fn goals_compare_medians() {
        let ratio_goal = Goal::RatioAtMost(1.10);
        assert_eq!(
            row(ratio_goal, &[110, 500, 100], Some(&[100])).met(),
            Some(true)
        );
        assert_eq!(row(ratio_goal, &[120], Some(&[100])).met(), Some(false));
        assert_eq!(row(ratio_goal, &[120], None).met(), None);
        let time_goal = Goal::MedianBelow(Duration::from_millis(50));
        assert_eq!(row(time_goal, &[49, 80, 10], None).met(), Some(true));
        assert_eq!(row(time_goal, &[50], None).met(), Some(false));
    }

    #[test]
    fn markdown_has_a_table_row_and_a_note_per_benchmark() {
        let section = Section {
            key: "sqlite",
            title: "SQLite",
            setup: vec!["SQLite 3.x.".to_owned()],
            rows: vec![row(Goal::RatioAtMost(1.10), &[120], Some(&[100]))],
            findings: vec!["Where the time goes.".to_owned()],
        };
        let machine = Machine {
            cpus: "2".to_owned(),
            kernel: "6.1".to_owned(),
            date: "2026-01-01 00:00 UTC".to_owned(),
        };
        let md = markdown(&section, &machine);
        assert!(
            md.starts_with("## SQLite\n\nMeasured 2026-01-01 00:00 UTC on 2 CPUs"),
            "{md}"
        );
        assert!(
            md.contains("| apply-3 | Cairn | 120.0 ms (120.0 ms–120.0 ms) | floor | 100.0 ms (100.0 ms–100.0 ms) | 1.20× | ratio ≤ 1.10× | **no** |"),
            "{md}"
        );
        assert!(md.contains("- **apply-3**: three migrations\n"), "{md}");
        assert!(md.ends_with("\nWhere the time goes.\n"), "{md}");
        assert!(text(&section, &machine).contains("1.20×"));
    }
}
