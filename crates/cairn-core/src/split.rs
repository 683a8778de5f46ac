//! Splitting SQL scripts into statements.
//!
//! Drivers run a migration one statement at a time (most client libraries
//! refuse several statements in one call, and running them one by one lets an
//! error point at the statement that failed). [`split`] cuts a script into its
//! [`Statement`]s with a small dialect-aware lexer: one pass over the
//! characters, linear time, no panics on any input.
//!
//! # Rules
//!
//! * A statement ends at `;` outside quotes, comments and bodies. A last
//!   statement without `;` is still returned; statements holding only
//!   whitespace and comments are dropped.
//! * Quotes: `'...'` strings with `''` escapes (all engines; MySQL also honours
//!   backslash escapes in `'...'` and `"..."`); `"..."` identifiers with `""`
//!   escapes (PostgreSQL, SQLite; strings on MySQL); `` `...` `` identifiers
//!   with doubled-backtick escapes (MySQL, SQLite); `[...]` identifiers
//!   (SQLite); `E'...'` strings with backslash escapes (PostgreSQL);
//!   `$$...$$` and `$tag$...$tag$` dollar quotes (PostgreSQL; `$1` is a
//!   parameter, not a quote).
//! * Comments: `--` to end of line (on MySQL only when followed by whitespace
//!   or a control character, otherwise it is two minus signs), `#` to end of
//!   line (MySQL), `/* ... */` (nesting on PostgreSQL). MySQL's executable
//!   comments `/*! ... */` and `/*M! ... */` count as statement text.
//! * Bodies whose semicolons do not end the statement: SQLite
//!   `CREATE [TEMP] TRIGGER ... BEGIN ... END`; MySQL
//!   `CREATE ... TRIGGER|PROCEDURE|FUNCTION|EVENT` with `BEGIN ... END`,
//!   `IF ... END IF`, `LOOP ... END LOOP`, `WHILE ... END WHILE`,
//!   `REPEAT ... END REPEAT` and `CASE ... END [CASE]` blocks, nested to any
//!   depth; PostgreSQL `CREATE ... BEGIN ATOMIC ... END`. `CASE ... END`
//!   inside a body never closes the body. Keywords match case-insensitively,
//!   on whole words outside quotes and comments, and only in statements that
//!   begin with `CREATE`: a plain `BEGIN;` is an ordinary statement.
//!   On MySQL, `IF(` and `REPEAT(` in expressions are function calls and
//!   `IF [NOT] EXISTS` after an object type (`DROP TABLE IF EXISTS`) is a
//!   clause; neither opens a block.
//! * MySQL `DELIMITER xx`, as the first word of a statement (normally at the
//!   start of a line), sets the delimiter for the following text and is not
//!   itself a statement. Its argument is the first whitespace-free run of
//!   characters after it on the same line (at most 15 characters, as in the
//!   `mysql` client); the rest of that line is ignored. With a delimiter other
//!   than `;`, semicolons do not split at all and bodies are not tracked.
//! * An unterminated string, identifier, comment, dollar quote or body is an
//!   error ([`SplitError::Unterminated`]) naming the line where it opened.
//!
//! These rules are the dialects': each returns its [`SplitRules`] (plain
//! data, see [`Bookkeeping::split_rules`](crate::dialect::Bookkeeping::split_rules)),
//! and this one algorithm follows them.
//!
//! Each statement's text runs from its first token to the end of its last
//! token, so leading and trailing comments and whitespace are not part of it
//! while comments between tokens are kept verbatim. Lines are counted by
//! `\n`; a stray `\r` is ordinary whitespace.

use crate::dialect::for_engine;
use crate::engine::Engine;

/// What the splitter must know of a dialect's lexical rules: plain data that
/// each dialect returns from
/// [`Bookkeeping::split_rules`](crate::dialect::Bookkeeping::split_rules), so
/// that a product adjusts one field of its family's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SplitRules {
    /// `"..."` is a string (MySQL) rather than a quoted identifier.
    pub double_quoted_strings: bool,
    /// A backslash escapes the next character in `'...'` and `"..."` strings (MySQL).
    pub backslash_escapes: bool,
    /// `E'...'` strings with backslash escapes (PostgreSQL).
    pub escape_strings: bool,
    /// `$$...$$` and `$tag$...$tag$` dollar quotes (PostgreSQL).
    pub dollar_quotes: bool,
    /// `` `...` `` quoted identifiers (MySQL, SQLite).
    pub backtick_identifiers: bool,
    /// `[...]` quoted identifiers (SQLite).
    pub bracket_identifiers: bool,
    /// `--` opens a comment only when whitespace or a control character
    /// follows it (MySQL); otherwise it is two minus signs.
    pub dash_comment_needs_space: bool,
    /// `#` comments to the end of the line (MySQL).
    pub hash_comments: bool,
    /// `/* ... */` comments nest (PostgreSQL).
    pub nested_block_comments: bool,
    /// `/*! ... */` and `/*M! ... */` are statement text (MySQL).
    pub executable_comments: bool,
    /// `DELIMITER xx` lines set the delimiter (the `mysql` client's).
    pub delimiter_directive: bool,
    /// Which `CREATE` statements hold bodies whose semicolons do not end them.
    pub bodies: Bodies,
}

/// How a dialect writes bodies whose semicolons do not end the statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Bodies {
    /// `CREATE ... BEGIN ATOMIC ... END`, with `CASE ... END` inside (PostgreSQL).
    BeginAtomic,
    /// `CREATE [TEMP] TRIGGER ... BEGIN ... END`, with `CASE ... END` inside (SQLite).
    TriggerBlocks,
    /// Compound statements in `CREATE TRIGGER|PROCEDURE|FUNCTION|EVENT`:
    /// `BEGIN ... END`, `IF ... END IF`, `LOOP`, `WHILE`, `REPEAT` and
    /// `CASE` blocks nested to any depth (MySQL).
    CompoundStatements,
}

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement text: leading whitespace and leading comments removed, the
    /// terminating delimiter (`;` or the current MySQL `DELIMITER`) removed,
    /// trailing whitespace trimmed. Comments inside the statement are kept
    /// verbatim; comments after its last token are dropped like trailing
    /// whitespace (a trailing `-- comment` would otherwise swallow a `;`
    /// appended when statements are joined again).
    pub sql: String,
    /// 1-based line (within the script given to [`split`]) where the
    /// statement's first token starts.
    pub line: usize,
}

/// Why a script could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SplitError {
    /// A string, quoted identifier, block comment, dollar quote or body is
    /// still open at the end of the script.
    #[error("line {line}: unterminated {what} opened here")]
    Unterminated {
        /// 1-based line where the construct opened.
        line: usize,
        /// What is unterminated: `"string literal"`, `"quoted identifier"`,
        /// `"block comment"`, `"dollar-quoted string $tag$"` or
        /// `"BEGIN ... END block"`.
        what: &'static str,
    },
    /// A MySQL `DELIMITER` line without a delimiter after it.
    #[error("line {line}: DELIMITER needs a delimiter, e.g. `DELIMITER $$`")]
    EmptyDelimiter {
        /// 1-based line of the `DELIMITER` line.
        line: usize,
    },
}

/// Splits `sql` into its statements following the rules of `engine`'s
/// dialect (see the [module documentation](self)).
///
/// # Errors
///
/// [`SplitError::Unterminated`] when a quote, comment or body is still open
/// at the end of `sql`; [`SplitError::EmptyDelimiter`] for a MySQL
/// `DELIMITER` line without an argument.
pub fn split(sql: &str, engine: Engine) -> Result<Vec<Statement>, SplitError> {
    split_with(sql, &for_engine(engine).split_rules())
}

/// Splits `sql` into its statements following `rules` (a dialect's
/// [`SplitRules`]); [`split`] with a connection's dialect.
///
/// # Errors
///
/// As [`split`].
pub fn split_with(sql: &str, rules: &SplitRules) -> Result<Vec<Statement>, SplitError> {
    Splitter {
        chars: sql.chars().collect(),
        rules: *rules,
        i: 0,
        line: 1,
        delim: None,
        stmt: Stmt::default(),
        out: Vec::new(),
    }
    .run()
}

/// The longest custom delimiter kept, as in the `mysql` client.
const MAX_DELIMITER_CHARS: usize = 15;

const STRING: &str = "string literal";
const IDENT: &str = "quoted identifier";
const COMMENT: &str = "block comment";
const DOLLAR: &str = "dollar-quoted string $tag$";
const BODY: &str = "BEGIN ... END block";

/// The keywords the splitter cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kw {
    Create,
    Begin,
    End,
    Atomic,
    Case,
    If,
    Loop,
    While,
    Repeat,
    Then,
    Else,
    Do,
    Row,
    /// PROCEDURE, FUNCTION, EVENT.
    Routine,
    Trigger,
    /// Other object types (TABLE, VIEW, INDEX, ...).
    Object,
    Delimiter,
    Other,
}

fn keyword(word: &[char]) -> Kw {
    if word.len() > 11 {
        return Kw::Other;
    }
    let upper: String = word.iter().map(char::to_ascii_uppercase).collect();
    match upper.as_str() {
        "CREATE" => Kw::Create,
        "BEGIN" => Kw::Begin,
        "END" => Kw::End,
        "ATOMIC" => Kw::Atomic,
        "CASE" => Kw::Case,
        "IF" => Kw::If,
        "LOOP" => Kw::Loop,
        "WHILE" => Kw::While,
        "REPEAT" => Kw::Repeat,
        "THEN" => Kw::Then,
        "ELSE" => Kw::Else,
        "DO" => Kw::Do,
        "ROW" => Kw::Row,
        "PROCEDURE" | "FUNCTION" | "EVENT" => Kw::Routine,
        "TRIGGER" => Kw::Trigger,
        "TABLE" | "VIEW" | "INDEX" | "DATABASE" | "SCHEMA" | "SEQUENCE" | "TYPE" | "USER"
        | "ROLE" | "SERVER" | "TABLESPACE" | "COLUMN" | "CONSTRAINT" | "KEY" | "PARTITION"
        | "DOMAIN" | "EXTENSION" => Kw::Object,
        "DELIMITER" => Kw::Delimiter,
        _ => Kw::Other,
    }
}

/// A significant token, as far as body tracking is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Tok {
    Word(Kw),
    Punct(char),
    /// `;`, a custom delimiter or the end of input.
    Terminator,
    #[default]
    Other,
}

/// What a `CREATE` statement creates, as far as bodies are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Kind {
    #[default]
    Unknown,
    /// May hold a body (MySQL routine or trigger, SQLite trigger).
    Body,
    NotBody,
}

/// MySQL blocks closed by `END <keyword>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inner {
    If = 0,
    Loop = 1,
    While = 2,
    Repeat = 3,
}

/// A keyword whose meaning depends on the token after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Pending {
    #[default]
    None,
    /// MySQL `END`: `END IF` and friends, or a plain `END`.
    End,
    /// MySQL `IF` / `REPEAT`: a block unless a `(` follows (a function call)
    /// where no statement can start.
    Opener {
        inner: Inner,
        line: usize,
        statement_start: bool,
    },
    /// PostgreSQL `BEGIN`: a body if `ATOMIC` follows.
    Begin { line: usize },
}

/// The blocks opened by `BEGIN`/`CASE` (frames) and, inside each frame, the
/// MySQL blocks closed by `END <keyword>`. A plain `END` closes the innermost
/// frame and whatever is left open inside it, so a misread opener (say, an
/// `IF` that was a function call) never outlives its frame. Counts per frame
/// make a closer without an opener O(1), which keeps the whole pass linear.
#[derive(Debug)]
struct Blocks {
    /// `frames[0]` is the base frame, opened by nothing.
    frames: Vec<Frame>,
}

#[derive(Debug, Default)]
struct Frame {
    case: bool,
    inner: Vec<Inner>,
    counts: [usize; 4],
}

impl Default for Blocks {
    fn default() -> Self {
        Blocks {
            frames: vec![Frame::default()],
        }
    }
}

impl Blocks {
    fn is_active(&self) -> bool {
        self.frames.len() > 1 || self.frames.first().is_some_and(|f| !f.inner.is_empty())
    }

    fn open_frame(&mut self, case: bool) {
        self.frames.push(Frame {
            case,
            ..Frame::default()
        });
    }

    fn open_inner(&mut self, inner: Inner) {
        if let Some(frame) = self.frames.last_mut() {
            frame.inner.push(inner);
            frame.counts[inner as usize] += 1;
        }
    }

    fn close_inner(&mut self, inner: Inner) {
        if let Some(frame) = self.frames.last_mut() {
            if frame.counts[inner as usize] > 0 {
                while let Some(top) = frame.inner.pop() {
                    frame.counts[top as usize] -= 1;
                    if top == inner {
                        break;
                    }
                }
            }
        }
    }

    fn close_case(&mut self) {
        if self.frames.len() > 1 && self.frames.last().is_some_and(|f| f.case) {
            self.frames.pop();
        }
    }

    fn close_plain(&mut self) {
        if self.frames.len() > 1 {
            self.frames.pop();
        } else if let Some(frame) = self.frames.last_mut() {
            frame.inner.clear();
            frame.counts = [0; 4];
        }
    }
}

/// The statement being read.
#[derive(Debug, Default)]
struct Stmt {
    /// Char index and line of the first token.
    start: Option<(usize, usize)>,
    /// Char index just past the last token.
    end: usize,
    create: bool,
    kind: Kind,
    prev: Tok,
    pending: Pending,
    blocks: Blocks,
    /// Line of the opener of the outermost open block.
    body_line: usize,
}

#[derive(Debug)]
struct Splitter {
    chars: Vec<char>,
    rules: SplitRules,
    i: usize,
    line: usize,
    /// The MySQL delimiter when it is not `;`.
    delim: Option<Vec<char>>,
    stmt: Stmt,
    out: Vec<Statement>,
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || (!c.is_ascii() && !c.is_whitespace())
}

fn is_word_cont(c: char) -> bool {
    is_word_start(c) || c == '$'
}

fn is_tag_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || !c.is_ascii()
}

fn is_tag_cont(c: char) -> bool {
    is_tag_start(c) || c.is_ascii_digit()
}

impl Splitter {
    fn run(mut self) -> Result<Vec<Statement>, SplitError> {
        let n = self.chars.len();
        let rules = self.rules;
        while self.i < n {
            let i = self.i;
            if let Some(len) = self.delim_len_at(i) {
                self.finish();
                self.i = i + len;
                continue;
            }
            let c = self.chars[i];
            let next = self.chars.get(i + 1).copied();
            let line = self.line;
            match c {
                '\n' => {
                    self.line += 1;
                    self.i = i + 1;
                }
                c if c.is_whitespace() => self.i = i + 1,
                ';' if self.delim.is_none() => self.semicolon(i),
                '-' if next == Some('-')
                    && (!rules.dash_comment_needs_space
                        || self
                            .chars
                            .get(i + 2)
                            .is_some_and(|c| c.is_whitespace() || c.is_control())) =>
                {
                    self.i = self.line_end(i);
                }
                '#' if rules.hash_comments => self.i = self.line_end(i),
                '/' if next == Some('*') => {
                    let end = self.block_comment(i)?;
                    let third = self.chars.get(i + 2).copied();
                    let fourth = self.chars.get(i + 3).copied();
                    if rules.executable_comments
                        && (third == Some('!') || (third == Some('M') && fourth == Some('!')))
                    {
                        self.token(i, end, line, Tok::Other);
                    }
                    self.i = end;
                }
                '\'' => {
                    let end = self.quoted(i, '\'', rules.backslash_escapes, STRING)?;
                    self.token(i, end, line, Tok::Other);
                }
                '"' => {
                    let end = if rules.double_quoted_strings {
                        self.quoted(i, '"', rules.backslash_escapes, STRING)?
                    } else {
                        self.quoted(i, '"', false, IDENT)?
                    };
                    self.token(i, end, line, Tok::Other);
                }
                '`' if rules.backtick_identifiers => {
                    let end = self.quoted(i, '`', false, IDENT)?;
                    self.token(i, end, line, Tok::Other);
                }
                '[' if rules.bracket_identifiers => {
                    let end = self.bracket(i)?;
                    self.token(i, end, line, Tok::Other);
                }
                '$' if rules.dollar_quotes => match self.dollar(i)? {
                    Some(end) => self.token(i, end, line, Tok::Other),
                    None => self.token(i, i + 1, line, Tok::Punct('$')),
                },
                c if is_word_start(c) => self.word(i)?,
                c => self.token(i, i + 1, line, Tok::Punct(c)),
            }
        }
        if self.stmt.start.is_some() {
            self.resolve_pending(Tok::Terminator);
            if self.stmt.blocks.is_active() {
                return Err(SplitError::Unterminated {
                    line: self.stmt.body_line,
                    what: BODY,
                });
            }
            self.finish();
        }
        Ok(self.out)
    }

    /// The length of the custom delimiter if it starts at `at`.
    fn delim_len_at(&self, at: usize) -> Option<usize> {
        let delim = self.delim.as_ref()?;
        let end = at.checked_add(delim.len())?;
        (self.chars.get(at..end) == Some(delim.as_slice())).then_some(delim.len())
    }

    /// Records the token `start..end` (opened on `line`) and sets `self.i` past it.
    fn token(&mut self, start: usize, end: usize, line: usize, tok: Tok) {
        let first = self.stmt.start.is_none();
        if first {
            self.stmt.start = Some((start, line));
        }
        self.stmt.end = end;
        self.i = end;
        self.feed(tok, line, first);
    }

    /// Ends the current statement, keeping it unless it is empty.
    fn finish(&mut self) {
        let stmt = std::mem::take(&mut self.stmt);
        if let Some((start, line)) = stmt.start {
            let sql: String = self
                .chars
                .get(start..stmt.end)
                .unwrap_or_default()
                .iter()
                .collect();
            self.out.push(Statement {
                sql: sql.trim_end().to_owned(),
                line,
            });
        }
    }

    fn semicolon(&mut self, i: usize) {
        self.i = i + 1;
        if self.stmt.start.is_none() {
            return;
        }
        self.resolve_pending(Tok::Terminator);
        if self.stmt.blocks.is_active() {
            self.stmt.end = i + 1;
            self.stmt.prev = Tok::Punct(';');
        } else {
            self.finish();
        }
    }

    /// Index of the `\n` ending the line comment at `i` (or of the end of input).
    fn line_end(&self, i: usize) -> usize {
        let mut j = i;
        while j < self.chars.len() && self.chars[j] != '\n' {
            j += 1;
        }
        j
    }

    /// Scans the quote opened by `quote` at `i`; a doubled `quote` is an escape.
    fn quoted(
        &mut self,
        i: usize,
        quote: char,
        backslash: bool,
        what: &'static str,
    ) -> Result<usize, SplitError> {
        let open = self.line;
        let n = self.chars.len();
        let mut j = i + 1;
        while j < n {
            let c = self.chars[j];
            if c == '\n' {
                self.line += 1;
            } else if backslash && c == '\\' {
                if self.chars.get(j + 1) == Some(&'\n') {
                    self.line += 1;
                }
                j += 2;
                continue;
            } else if c == quote {
                if self.chars.get(j + 1) == Some(&quote) {
                    j += 2;
                    continue;
                }
                return Ok(j + 1);
            }
            j += 1;
        }
        Err(SplitError::Unterminated { line: open, what })
    }

    /// Scans a SQLite `[identifier]`.
    fn bracket(&mut self, i: usize) -> Result<usize, SplitError> {
        let open = self.line;
        for j in i + 1..self.chars.len() {
            match self.chars[j] {
                '\n' => self.line += 1,
                ']' => return Ok(j + 1),
                _ => {}
            }
        }
        Err(SplitError::Unterminated {
            line: open,
            what: IDENT,
        })
    }

    fn block_comment(&mut self, i: usize) -> Result<usize, SplitError> {
        let open = self.line;
        let nests = self.rules.nested_block_comments;
        let n = self.chars.len();
        let mut depth = 1usize;
        let mut j = i + 2;
        while j < n {
            let c = self.chars[j];
            let next = self.chars.get(j + 1).copied();
            if c == '*' && next == Some('/') {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return Ok(j);
                }
            } else if nests && c == '/' && next == Some('*') {
                depth += 1;
                j += 2;
            } else {
                if c == '\n' {
                    self.line += 1;
                }
                j += 1;
            }
        }
        Err(SplitError::Unterminated {
            line: open,
            what: COMMENT,
        })
    }

    /// Scans a PostgreSQL dollar quote at `i`, or returns `None` if the `$`
    /// opens none.
    fn dollar(&mut self, i: usize) -> Result<Option<usize>, SplitError> {
        let n = self.chars.len();
        let mut j = i + 1;
        if j < n && is_tag_start(self.chars[j]) {
            j += 1;
            while j < n && is_tag_cont(self.chars[j]) {
                j += 1;
            }
        }
        if self.chars.get(j) != Some(&'$') {
            return Ok(None);
        }
        let tag_len = j + 1 - i;
        let open = self.line;
        let mut k = j + 1;
        while k < n {
            let c = self.chars[k];
            if c == '$' && self.chars.get(k..k + tag_len) == self.chars.get(i..i + tag_len) {
                return Ok(Some(k + tag_len));
            }
            if c == '\n' {
                self.line += 1;
            }
            k += 1;
        }
        Err(SplitError::Unterminated {
            line: open,
            what: DOLLAR,
        })
    }

    fn word(&mut self, i: usize) -> Result<(), SplitError> {
        let n = self.chars.len();
        let line = self.line;
        let mut j = i + 1;
        while j < n && is_word_cont(self.chars[j]) && self.delim_len_at(j).is_none() {
            j += 1;
        }
        if self.rules.escape_strings
            && j == i + 1
            && matches!(self.chars[i], 'e' | 'E')
            && self.chars.get(j) == Some(&'\'')
        {
            let end = self.quoted(j, '\'', true, STRING)?;
            self.token(i, end, line, Tok::Other);
            return Ok(());
        }
        let kw = keyword(&self.chars[i..j]);
        if self.rules.delimiter_directive && kw == Kw::Delimiter && self.stmt.start.is_none() {
            return self.directive(j, line);
        }
        self.token(i, j, line, Tok::Word(kw));
        Ok(())
    }

    /// Reads the argument of a MySQL `DELIMITER` whose keyword ends at `j`.
    fn directive(&mut self, j: usize, line: usize) -> Result<(), SplitError> {
        let n = self.chars.len();
        let mut k = j;
        while k < n && self.chars[k] != '\n' && self.chars[k].is_whitespace() {
            k += 1;
        }
        let start = k;
        while k < n && !self.chars[k].is_whitespace() {
            k += 1;
        }
        if start == k {
            return Err(SplitError::EmptyDelimiter { line });
        }
        let delim: Vec<char> = self.chars[start..k]
            .iter()
            .take(MAX_DELIMITER_CHARS)
            .copied()
            .collect();
        self.delim = (delim != [';']).then_some(delim);
        self.i = self.line_end(k);
        Ok(())
    }

    /// Body tracking: called for every token of the statement but `;`.
    fn feed(&mut self, tok: Tok, line: usize, first: bool) {
        if first {
            self.stmt.create = tok == Tok::Word(Kw::Create);
            self.stmt.prev = tok;
            return;
        }
        if !self.stmt.create || self.delim.is_some() {
            return;
        }
        if !self.resolve_pending(tok) {
            if let Tok::Word(kw) = tok {
                self.keyword(kw, line);
            }
        }
        self.stmt.prev = tok;
    }

    /// Settles a pending keyword given the token after it; returns whether
    /// that token was consumed (the `IF` of `END IF`, the `ATOMIC` of
    /// `BEGIN ATOMIC`).
    fn resolve_pending(&mut self, tok: Tok) -> bool {
        let blocks = &mut self.stmt.blocks;
        match std::mem::take(&mut self.stmt.pending) {
            Pending::None => false,
            Pending::End => match tok {
                Tok::Word(Kw::If) => {
                    blocks.close_inner(Inner::If);
                    true
                }
                Tok::Word(Kw::Loop) => {
                    blocks.close_inner(Inner::Loop);
                    true
                }
                Tok::Word(Kw::While) => {
                    blocks.close_inner(Inner::While);
                    true
                }
                Tok::Word(Kw::Repeat) => {
                    blocks.close_inner(Inner::Repeat);
                    true
                }
                Tok::Word(Kw::Case) => {
                    blocks.close_case();
                    true
                }
                _ => {
                    blocks.close_plain();
                    false
                }
            },
            Pending::Opener {
                inner,
                line,
                statement_start,
            } => {
                let call = tok == Tok::Punct('(') && !statement_start;
                if tok != Tok::Terminator && !call {
                    if !blocks.is_active() {
                        self.stmt.body_line = line;
                    }
                    blocks.open_inner(inner);
                }
                false
            }
            Pending::Begin { line } => {
                if tok == Tok::Word(Kw::Atomic) {
                    if !blocks.is_active() {
                        self.stmt.body_line = line;
                    }
                    blocks.open_frame(false);
                    true
                } else {
                    false
                }
            }
        }
    }

    fn open_frame(&mut self, case: bool, line: usize) {
        if !self.stmt.blocks.is_active() {
            self.stmt.body_line = line;
        }
        self.stmt.blocks.open_frame(case);
    }

    fn open_inner(&mut self, inner: Inner, line: usize) {
        if !self.stmt.blocks.is_active() {
            self.stmt.body_line = line;
        }
        self.stmt.blocks.open_inner(inner);
    }

    /// Body tracking for a keyword of a `CREATE` statement.
    fn keyword(&mut self, kw: Kw, line: usize) {
        if self.stmt.kind == Kind::Unknown {
            self.stmt.kind = match (kw, self.rules.bodies) {
                (Kw::Trigger, Bodies::TriggerBlocks | Bodies::CompoundStatements)
                | (Kw::Routine, Bodies::CompoundStatements) => Kind::Body,
                (Kw::Trigger | Kw::Routine | Kw::Object, _) => Kind::NotBody,
                _ => Kind::Unknown,
            };
        }
        let active = self.stmt.blocks.is_active();
        match self.rules.bodies {
            Bodies::BeginAtomic => match kw {
                Kw::Begin if !active => self.stmt.pending = Pending::Begin { line },
                Kw::Case if active => self.open_frame(true, line),
                Kw::End if active => self.stmt.blocks.close_plain(),
                _ => {}
            },
            Bodies::TriggerBlocks if self.stmt.kind == Kind::Body => match kw {
                Kw::Begin => self.open_frame(false, line),
                Kw::Case if active => self.open_frame(true, line),
                Kw::End if active => self.stmt.blocks.close_plain(),
                _ => {}
            },
            Bodies::CompoundStatements if self.stmt.kind == Kind::Body => match kw {
                Kw::Begin => self.open_frame(false, line),
                Kw::Case => self.open_frame(true, line),
                Kw::Loop => self.open_inner(Inner::Loop, line),
                Kw::While => self.open_inner(Inner::While, line),
                Kw::If | Kw::Repeat => {
                    let prev = self.stmt.prev;
                    let after_object =
                        matches!(prev, Tok::Word(Kw::Object | Kw::Routine | Kw::Trigger));
                    if !after_object {
                        self.stmt.pending = Pending::Opener {
                            inner: if kw == Kw::If {
                                Inner::If
                            } else {
                                Inner::Repeat
                            },
                            line,
                            statement_start: matches!(
                                prev,
                                Tok::Punct(';' | ':' | ')')
                                    | Tok::Word(
                                        Kw::Begin
                                            | Kw::Then
                                            | Kw::Else
                                            | Kw::Do
                                            | Kw::Loop
                                            | Kw::Repeat
                                            | Kw::Row
                                    )
                            ),
                        };
                    }
                }
                Kw::End if active => self.stmt.pending = Pending::End,
                _ => {}
            },
            _ => {}
        }
    }
}

/// Whether `statement` (one [`Statement::sql`] of [`split`]) starts, ends or
/// commits a transaction; if so, its leading keywords (`"COMMIT"`,
/// `"BEGIN TRANSACTION"`, ...).
///
/// Cairn runs a transactional script inside its own transaction together with
/// its history row, so such a statement would commit part of the migration
/// without its history row and leave the rest, and the bookkeeping, outside
/// any transaction. Matched on the statement's first keywords, outside
/// comments:
///
/// * `BEGIN` alone or followed by `TRANSACTION`, `WORK`, `DEFERRED`,
///   `IMMEDIATE`, `EXCLUSIVE` (SQLite), `ISOLATION`, `READ`, `DEFERRABLE` or
///   `NOT DEFERRABLE` (PostgreSQL); not `BEGIN ATOMIC` or MariaDB's
///   `BEGIN NOT ATOMIC` blocks. A `BEGIN ... END` body inside `CREATE
///   FUNCTION`/`PROCEDURE`/`TRIGGER` or a dollar quote is part of its
///   `CREATE` or `DO` statement and never seen here;
/// * `START TRANSACTION`; `COMMIT` (also `COMMIT AND CHAIN`, `COMMIT
///   PREPARED`); `END` alone or with `WORK`, `TRANSACTION` or `AND CHAIN`;
///   `ABORT`; `PREPARE TRANSACTION`;
/// * `ROLLBACK`, except `ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name`,
///   which stays inside the transaction, like `SAVEPOINT` and `RELEASE`.
///
/// `SET TRANSACTION` only sets the characteristics of the current
/// transaction and is not matched. MySQL's implicit commits (`LOCK TABLES`,
/// `XA`, any DDL) are not matched either: on MySQL no script runs inside
/// Cairn's transaction, because DDL commits there anyway.
pub fn transaction_control(statement: &str) -> Option<String> {
    let words = leading_words(statement, 3);
    let word = |i: usize| words.get(i).map(String::as_str);
    let matched = match (word(0)?, word(1), word(2)) {
        ("BEGIN", None, _) => 1,
        ("BEGIN", Some("NOT"), third) if third != Some("ATOMIC") => 1,
        (
            "BEGIN",
            Some(
                "TRANSACTION" | "WORK" | "DEFERRED" | "IMMEDIATE" | "EXCLUSIVE" | "ISOLATION"
                | "READ" | "DEFERRABLE",
            ),
            _,
        ) => 2,
        ("START" | "PREPARE", Some("TRANSACTION"), _) => 2,
        ("COMMIT" | "ABORT", second, _) => match second {
            Some("WORK" | "TRANSACTION" | "PREPARED") => 2,
            _ => 1,
        },
        ("END", None, _) => 1,
        ("END", Some("WORK" | "TRANSACTION"), _) => 2,
        ("END", Some("AND"), _) => 1,
        ("ROLLBACK", Some("TO"), _) => return None,
        ("ROLLBACK", Some("WORK" | "TRANSACTION"), Some("TO")) => return None,
        ("ROLLBACK", Some("WORK" | "TRANSACTION" | "PREPARED"), _) => 2,
        ("ROLLBACK", _, _) => 1,
        _ => return None,
    };
    Some(words[..matched].join(" "))
}

/// The first `n` words of `sql`, upper-cased, skipping whitespace and
/// comments; stops early at anything that is not a word.
pub fn leading_words(sql: &str, n: usize) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = sql;
    while words.len() < n {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, tail)| tail);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, tail)| tail);
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end == 0 {
                break;
            }
            words.push(rest[..end].to_ascii_uppercase());
            rest = &rest[end..];
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PG: Engine = Engine::Postgres;
    const MY: Engine = Engine::Mysql;
    const LITE: Engine = Engine::Sqlite;

    fn texts(sql: &str, engine: Engine) -> Vec<String> {
        match split(sql, engine) {
            Ok(stmts) => stmts.into_iter().map(|s| s.sql).collect(),
            Err(e) => panic!("{engine}: {sql:?} failed: {e}"),
        }
    }

    fn with_lines(sql: &str, engine: Engine) -> Vec<(usize, String)> {
        match split(sql, engine) {
            Ok(stmts) => stmts.into_iter().map(|s| (s.line, s.sql)).collect(),
            Err(e) => panic!("{engine}: {sql:?} failed: {e}"),
        }
    }

    /// (engines, script, expected statement texts)
    const CASES: &[(&[Engine], &str, &[&str])] = &[
        // basics, all engines
        (&Engine::ALL, "", &[]),
        (&Engine::ALL, "  \n\t ", &[]),
        (&Engine::ALL, ";;  ;", &[]),
        (&Engine::ALL, "SELECT 1", &["SELECT 1"]),
        (&Engine::ALL, "SELECT 1;", &["SELECT 1"]),
        (&Engine::ALL, "SELECT 1; SELECT 2", &["SELECT 1", "SELECT 2"]),
        (&Engine::ALL, "  SELECT 1  ;\n\n SELECT 2 ;  ", &["SELECT 1", "SELECT 2"]),
        (&Engine::ALL, "-- only a comment\n/* and another */", &[]),
        (&Engine::ALL, "-- lead; in\nSELECT 1;", &["SELECT 1"]),
        (&Engine::ALL, "/* lead; */ SELECT 1", &["SELECT 1"]),
        (&Engine::ALL, "SELECT /* in; */ 1 -- a;\n + 2;", &["SELECT /* in; */ 1 -- a;\n + 2"]),
        (&Engine::ALL, "SELECT 1 -- trailing\n;", &["SELECT 1"]),
        (&Engine::ALL, "SELECT 1; -- trailing only", &["SELECT 1"]),
        (&Engine::ALL, "SELECT 1 /* tail */", &["SELECT 1"]),
        (&Engine::ALL, "SELECT 'a;b';", &["SELECT 'a;b'"]),
        (&Engine::ALL, "SELECT 'it''s; ok'; SELECT 2", &["SELECT 'it''s; ok'", "SELECT 2"]),
        (&Engine::ALL, "SELECT ''; SELECT ''''", &["SELECT ''", "SELECT ''''"]),
        (&Engine::ALL, "SELECT 'multi\nline;'\n;x", &["SELECT 'multi\nline;'", "x"]),
        (&Engine::ALL, "SELECT 1;\r\nSELECT 2;\r\n", &["SELECT 1", "SELECT 2"]),
        (&Engine::ALL, "SELECT 1 --\n;", &["SELECT 1"]),
        (&Engine::ALL, "SELECT 1 - -1;", &["SELECT 1 - -1"]),
        // plain transactions are ordinary statements everywhere
        (&Engine::ALL, "BEGIN; INSERT INTO t VALUES (1); COMMIT;", &["BEGIN", "INSERT INTO t VALUES (1)", "COMMIT"]),
        (&Engine::ALL, "BEGIN TRANSACTION;\nUPDATE t SET a = 1;\nEND;", &["BEGIN TRANSACTION", "UPDATE t SET a = 1", "END"]),
        (&Engine::ALL, "CREATE TABLE t (a int, b text); BEGIN; END;", &["CREATE TABLE t (a int, b text)", "BEGIN", "END"]),
        // double quotes: identifiers on PG/SQLite, strings on MySQL
        (&Engine::ALL, r#"SELECT "a;b" FROM t; SELECT 2"#, &[r#"SELECT "a;b" FROM t"#, "SELECT 2"]),
        (&Engine::ALL, r#"SELECT "a"";b"; SELECT 2"#, &[r#"SELECT "a"";b""#, "SELECT 2"]),
        // backslashes: escapes on MySQL only
        (&[MY], r"SELECT 'it\'s; fine'; SELECT 2", &[r"SELECT 'it\'s; fine'", "SELECT 2"]),
        (&[MY], r#"SELECT "say \"hi;\""; SELECT 2"#, &[r#"SELECT "say \"hi;\"""#, "SELECT 2"]),
        (&[MY], r"SELECT '\\'; SELECT 2", &[r"SELECT '\\'", "SELECT 2"]),
        (&[PG, LITE], r"SELECT 'C:\'; SELECT 2", &[r"SELECT 'C:\'", "SELECT 2"]),
        // PostgreSQL E'' strings
        (&[PG], r"SELECT E'\''; SELECT 2", &[r"SELECT E'\''", "SELECT 2"]),
        (&[PG], r"SELECT e'a\\'; SELECT 2", &[r"SELECT e'a\\'", "SELECT 2"]),
        (&[PG], r"SELECT E'x\';y'''; SELECT 2", &[r"SELECT E'x\';y'''", "SELECT 2"]),
        (&[PG], r"SELECT name'a;b'; SELECT 2", &[r"SELECT name'a;b'", "SELECT 2"]),
        // backticks on MySQL/SQLite, brackets on SQLite
        (&[MY, LITE], "SELECT `a;b` FROM `t``;`; SELECT 2", &["SELECT `a;b` FROM `t``;`", "SELECT 2"]),
        (&[PG], "SELECT 1 `; SELECT 2", &["SELECT 1 `", "SELECT 2"]),
        (&[LITE], "SELECT [a;b] FROM [t]; SELECT 2", &["SELECT [a;b] FROM [t]", "SELECT 2"]),
        (&[PG], "SELECT a[1]; SELECT 2", &["SELECT a[1]", "SELECT 2"]),
        // comments
        (&[MY], "# hash; comment\nSELECT 1; # tail\nSELECT 2", &["SELECT 1", "SELECT 2"]),
        (&[PG, LITE], "SELECT 1 # 2; SELECT 3", &["SELECT 1 # 2", "SELECT 3"]),
        (&[MY], "SELECT 5--1; SELECT 2", &["SELECT 5--1", "SELECT 2"]),
        (&[MY], "SELECT 5 --1;\nSELECT 2 -- real; comment\n", &["SELECT 5 --1", "SELECT 2"]),
        (&[MY], "SELECT 5 --\tx;\n;", &["SELECT 5"]),
        (&[PG, LITE], "SELECT 5--1; SELECT 2\n;", &["SELECT 5"]),
        (&[PG], "/* outer /* inner; */ still; */ SELECT 1; SELECT 2", &["SELECT 1", "SELECT 2"]),
        (&[MY, LITE], "/* a /* b */ SELECT 1; SELECT 2", &["SELECT 1", "SELECT 2"]),
        (&[PG], "SELECT 1 /*/ x; */; SELECT 2", &["SELECT 1", "SELECT 2"]),
        (&[MY], "/*!40101 SET NAMES utf8 */;\n/*M!100100 SET x=1 */;", &["/*!40101 SET NAMES utf8 */", "/*M!100100 SET x=1 */"]),
        // PostgreSQL dollar quotes
        (&[PG], "SELECT $$a;b$$; SELECT 2", &["SELECT $$a;b$$", "SELECT 2"]),
        (
            &[PG],
            "CREATE FUNCTION f() RETURNS int AS $body$\nBEGIN\n  RAISE NOTICE 'x; $$ y';\n  RETURN 1;\nEND;\n$body$ LANGUAGE plpgsql;\nSELECT f();",
            &["CREATE FUNCTION f() RETURNS int AS $body$\nBEGIN\n  RAISE NOTICE 'x; $$ y';\n  RETURN 1;\nEND;\n$body$ LANGUAGE plpgsql", "SELECT f()"],
        ),
        (&[PG], "SELECT $a$ $b$ ; $ab$ $a $a$; x", &["SELECT $a$ $b$ ; $ab$ $a $a$", "x"]),
        (&[PG], "SELECT $1, $2; SELECT 2", &["SELECT $1, $2", "SELECT 2"]),
        (&[PG], "SELECT a$b$c; SELECT $_x1$;$_x1$", &["SELECT a$b$c", "SELECT $_x1$;$_x1$"]),
        (&[PG], "DO $$ BEGIN PERFORM 1; END $$;", &["DO $$ BEGIN PERFORM 1; END $$"]),
        (&[MY, LITE], "SELECT $$a;b$$; SELECT 2", &["SELECT $$a", "b$$", "SELECT 2"]),
        // PostgreSQL BEGIN ATOMIC
        (
            &[PG],
            "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 2 END;\n  SELECT a;\nEND;\nSELECT 1;",
            &["CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 2 END;\n  SELECT a;\nEND", "SELECT 1"],
        ),
        (
            &[PG],
            "create or replace procedure p() begin atomic insert into t values (1); end; call p();",
            &["create or replace procedure p() begin atomic insert into t values (1); end", "call p()"],
        ),
        (&[PG], "BEGIN ATOMIC; SELECT 1;", &["BEGIN ATOMIC", "SELECT 1"]),
        (&[PG], "CREATE TABLE begin_atomic (a int); SELECT 1", &["CREATE TABLE begin_atomic (a int)", "SELECT 1"]),
        // SQLite triggers
        (
            &[LITE],
            "CREATE TRIGGER tr AFTER INSERT ON t\nBEGIN\n  UPDATE t SET b = CASE WHEN new.a > 0 THEN 1 ELSE 0 END;\n  INSERT INTO log VALUES (new.a);\nEND;\nSELECT 1;",
            &["CREATE TRIGGER tr AFTER INSERT ON t\nBEGIN\n  UPDATE t SET b = CASE WHEN new.a > 0 THEN 1 ELSE 0 END;\n  INSERT INTO log VALUES (new.a);\nEND", "SELECT 1"],
        ),
        (
            &[LITE],
            "create temp trigger if not exists tr before delete on t when old.a = case 1 when 1 then 1 end begin select raise(abort, 'no;'); end; select 2",
            &["create temp trigger if not exists tr before delete on t when old.a = case 1 when 1 then 1 end begin select raise(abort, 'no;'); end", "select 2"],
        ),
        (
            &[LITE],
            "CREATE TEMPORARY TRIGGER tr AFTER UPDATE ON t BEGIN SELECT CASE WHEN 1 THEN CASE 2 WHEN 2 THEN 3 END END; END; SELECT 2",
            &["CREATE TEMPORARY TRIGGER tr AFTER UPDATE ON t BEGIN SELECT CASE WHEN 1 THEN CASE 2 WHEN 2 THEN 3 END END; END", "SELECT 2"],
        ),
        (&[LITE], "CREATE TABLE t(\"begin\" int, [end] int); SELECT 1", &["CREATE TABLE t(\"begin\" int, [end] int)", "SELECT 1"]),
        (&[LITE], "CREATE VIEW v AS SELECT CASE a WHEN 1 THEN 2 END FROM t; SELECT 1", &["CREATE VIEW v AS SELECT CASE a WHEN 1 THEN 2 END FROM t", "SELECT 1"]),
        // MySQL bodies without DELIMITER
        (
            &[MY],
            "CREATE PROCEDURE p(IN n INT)\nBEGIN\n  DECLARE i INT DEFAULT 0;\n  IF n > 0 THEN\n    SET i = IF(n > 10, 10, n);\n  ELSEIF n < 0 THEN\n    SET i = 0;\n  END IF;\n  lp: LOOP\n    SET i = i - 1;\n    IF i <= 0 THEN LEAVE lp; END IF;\n  END LOOP lp;\nEND;\nCALL p(3);",
            &["CREATE PROCEDURE p(IN n INT)\nBEGIN\n  DECLARE i INT DEFAULT 0;\n  IF n > 0 THEN\n    SET i = IF(n > 10, 10, n);\n  ELSEIF n < 0 THEN\n    SET i = 0;\n  END IF;\n  lp: LOOP\n    SET i = i - 1;\n    IF i <= 0 THEN LEAVE lp; END IF;\n  END LOOP lp;\nEND", "CALL p(3)"],
        ),
        (
            &[MY],
            "CREATE DEFINER=`root`@`%` PROCEDURE p() BEGIN WHILE x DO SET x = x - 1; END WHILE; REPEAT SET s = REPEAT('a', 2); UNTIL x END REPEAT; CASE x WHEN 1 THEN SELECT 1; ELSE BEGIN SELECT 2; END; END CASE; END; SELECT 3",
            &["CREATE DEFINER=`root`@`%` PROCEDURE p() BEGIN WHILE x DO SET x = x - 1; END WHILE; REPEAT SET s = REPEAT('a', 2); UNTIL x END REPEAT; CASE x WHEN 1 THEN SELECT 1; ELSE BEGIN SELECT 2; END; END CASE; END", "SELECT 3"],
        ),
        (
            &[MY],
            "CREATE PROCEDURE IF NOT EXISTS p() BEGIN DROP TEMPORARY TABLE IF EXISTS tmp; IF NOT EXISTS (SELECT 1) THEN SELECT 1; END IF; IF (a > 1) THEN SELECT 2; END IF; END; SELECT 3",
            &["CREATE PROCEDURE IF NOT EXISTS p() BEGIN DROP TEMPORARY TABLE IF EXISTS tmp; IF NOT EXISTS (SELECT 1) THEN SELECT 1; END IF; IF (a > 1) THEN SELECT 2; END IF; END", "SELECT 3"],
        ),
        (
            &[MY],
            "create trigger tr before insert on t for each row begin set new.a = case when new.a is null then 0 else new.a end; end; select 1",
            &["create trigger tr before insert on t for each row begin set new.a = case when new.a is null then 0 else new.a end; end", "select 1"],
        ),
        (
            &[MY],
            "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW IF NEW.a < 0 THEN SET NEW.a = 0; END IF; SELECT 1",
            &["CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW IF NEW.a < 0 THEN SET NEW.a = 0; END IF", "SELECT 1"],
        ),
        (
            &[MY],
            "CREATE FUNCTION f(a INT) RETURNS INT DETERMINISTIC RETURN IF(a > 0, a, 0); SELECT f(1)",
            &["CREATE FUNCTION f(a INT) RETURNS INT DETERMINISTIC RETURN IF(a > 0, a, 0)", "SELECT f(1)"],
        ),
        (
            &[MY],
            "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM t; INSERT INTO u VALUES (1); END; SELECT 1",
            &["CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM t; INSERT INTO u VALUES (1); END", "SELECT 1"],
        ),
        (&[MY], "CREATE TABLE t (event INT, `begin` INT); SELECT 1", &["CREATE TABLE t (event INT, `begin` INT)", "SELECT 1"]),
        (&[PG, LITE], "CREATE PROCEDURE p() BEGIN SELECT 1; END;", &["CREATE PROCEDURE p() BEGIN SELECT 1", "END"]),
        // MySQL DELIMITER
        (
            &[MY],
            "DELIMITER $$\nCREATE PROCEDURE a() BEGIN SELECT 1; END$$\nCREATE PROCEDURE b()\nBEGIN\n  SELECT 2;\nEND $$\nDELIMITER ;\nCALL a(); CALL b();",
            &["CREATE PROCEDURE a() BEGIN SELECT 1; END", "CREATE PROCEDURE b()\nBEGIN\n  SELECT 2;\nEND", "CALL a()", "CALL b()"],
        ),
        (&[MY], "delimiter //\nSELECT 1; SELECT '//' // SELECT 2//\nDelimiter ;\nSELECT 3;", &["SELECT 1; SELECT '//'", "SELECT 2", "SELECT 3"]),
        (&[MY], "DELIMITER ;;\nSELECT 1;;SELECT 2;;", &["SELECT 1", "SELECT 2"]),
        (&[MY], "DELIMITER $$ trailing words\nSELECT 1$$", &["SELECT 1"]),
        (&[PG, LITE], "DELIMITER //\nSELECT 1;", &["DELIMITER //\nSELECT 1"]),
        (&[MY], "SELECT delimiter FROM t; SELECT 1", &["SELECT delimiter FROM t", "SELECT 1"]),
    ];

    #[test]
    fn transaction_control_is_found_by_its_first_keywords() {
        let found: &[(&str, &str)] = &[
            ("BEGIN", "BEGIN"),
            ("begin transaction", "BEGIN TRANSACTION"),
            ("BEGIN WORK", "BEGIN WORK"),
            ("BEGIN IMMEDIATE TRANSACTION", "BEGIN IMMEDIATE"),
            ("BEGIN DEFERRED", "BEGIN DEFERRED"),
            ("BEGIN EXCLUSIVE", "BEGIN EXCLUSIVE"),
            ("BEGIN ISOLATION LEVEL SERIALIZABLE", "BEGIN ISOLATION"),
            ("BEGIN READ ONLY", "BEGIN READ"),
            ("BEGIN NOT DEFERRABLE", "BEGIN"),
            ("START TRANSACTION", "START TRANSACTION"),
            ("start transaction read write", "START TRANSACTION"),
            ("COMMIT", "COMMIT"),
            ("COMMIT WORK", "COMMIT WORK"),
            ("COMMIT AND CHAIN", "COMMIT"),
            ("COMMIT PREPARED 'x'", "COMMIT PREPARED"),
            ("END", "END"),
            ("END TRANSACTION", "END TRANSACTION"),
            ("end and no chain", "END"),
            ("ABORT", "ABORT"),
            ("ROLLBACK", "ROLLBACK"),
            ("ROLLBACK WORK", "ROLLBACK WORK"),
            ("ROLLBACK AND CHAIN", "ROLLBACK"),
            ("ROLLBACK PREPARED 'x'", "ROLLBACK PREPARED"),
            ("PREPARE TRANSACTION 'x'", "PREPARE TRANSACTION"),
            ("/* why */ COMMIT", "COMMIT"),
            ("BEGIN -- ours\n TRANSACTION", "BEGIN TRANSACTION"),
        ];
        for (sql, keywords) in found {
            assert_eq!(
                transaction_control(sql).as_deref(),
                Some(*keywords),
                "{sql:?}"
            );
        }
        let not_found = [
            "SAVEPOINT a",
            "RELEASE SAVEPOINT a",
            "ROLLBACK TO a",
            "ROLLBACK TO SAVEPOINT a",
            "ROLLBACK WORK TO SAVEPOINT a",
            "rollback transaction to a",
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "BEGIN ATOMIC",
            "BEGIN NOT ATOMIC SELECT 1",
            "PREPARE q AS SELECT 1",
            "END IF",
            "END LOOP",
            "COMMITTED",
            "CREATE TABLE begin_commit (a int)",
            "INSERT INTO t VALUES ('COMMIT')",
            "DO $$ BEGIN COMMIT; END $$",
            "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql",
            "-- COMMIT\nSELECT 1",
            "",
        ];
        for sql in not_found {
            assert_eq!(transaction_control(sql), None, "{sql:?}");
        }
    }

    /// Bodies that hold `BEGIN` and `COMMIT` are one statement, whose first
    /// keyword is `CREATE` or `DO`: the splitter and the check agree.
    #[test]
    fn transaction_control_ignores_bodies_the_splitter_keeps_whole() {
        let scripts: &[(Engine, &str)] = &[
            (PG, "CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$;\nDO $$ BEGIN PERFORM 1; END $$;"),
            (PG, "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;"),
            (LITE, "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 1; END;"),
            (MY, "CREATE PROCEDURE p() BEGIN START TRANSACTION; COMMIT; END;"),
        ];
        for (engine, sql) in scripts {
            for statement in texts(sql, *engine) {
                assert_eq!(transaction_control(&statement), None, "{statement:?}");
            }
        }
        let found: Vec<String> = texts("BEGIN;\nCREATE TABLE t (a int);\nCOMMIT;", LITE)
            .iter()
            .filter_map(|s| transaction_control(s))
            .collect();
        assert_eq!(found, ["BEGIN", "COMMIT"]);
    }

    #[test]
    fn table() {
        for (engines, sql, want) in CASES {
            for &engine in *engines {
                assert_eq!(texts(sql, engine), *want, "{engine}: {sql:?}");
            }
        }
    }

    #[test]
    fn line_numbers() {
        let sql = "-- header\n/* multi\nline\ncomment */\nSELECT 1;\n\nSELECT\n  'a\nb';  SELECT 3;\n/*\n*/ SELECT 4";
        for engine in Engine::ALL {
            assert_eq!(
                with_lines(sql, engine),
                [
                    (5, "SELECT 1".to_owned()),
                    (7, "SELECT\n  'a\nb'".to_owned()),
                    (9, "SELECT 3".to_owned()),
                    (11, "SELECT 4".to_owned()),
                ],
                "{engine}"
            );
        }
        assert_eq!(
            with_lines("SELECT $$\n;\n$$;\n\nSELECT 2", PG),
            [
                (1, "SELECT $$\n;\n$$".to_owned()),
                (5, "SELECT 2".to_owned())
            ]
        );
        assert_eq!(
            with_lines("SELECT 1;\r\n\r\nSELECT 2\r", LITE),
            [(1, "SELECT 1".to_owned()), (3, "SELECT 2".to_owned())]
        );
        assert_eq!(
            with_lines(
                "DELIMITER $$\n\nSELECT 1$$ SELECT\n2 $$\nDELIMITER ;\nSELECT 3",
                MY
            ),
            [
                (3, "SELECT 1".to_owned()),
                (3, "SELECT\n2".to_owned()),
                (6, "SELECT 3".to_owned())
            ]
        );
        assert_eq!(
            with_lines(
                "# one\n# two\nSELECT 1 # x\n;SELECT 'a\\\nb';\nSELECT 3",
                MY
            ),
            [
                (3, "SELECT 1".to_owned()),
                (4, "SELECT 'a\\\nb'".to_owned()),
                (6, "SELECT 3".to_owned())
            ]
        );
    }

    #[test]
    fn errors() {
        let unterminated = |line, what| SplitError::Unterminated { line, what };
        let cases: &[(&[Engine], &str, SplitError)] = &[
            (
                &Engine::ALL,
                "SELECT 1;\nSELECT 'abc;",
                unterminated(2, STRING),
            ),
            (&Engine::ALL, "SELECT 'it''", unterminated(1, STRING)),
            (
                &Engine::ALL,
                "\n\nSELECT /* never; closed",
                unterminated(3, COMMENT),
            ),
            (&[PG, LITE], "SELECT \"a;\nb", unterminated(1, IDENT)),
            (&[MY], "SELECT \"a;\nb", unterminated(1, STRING)),
            (&[MY], r"SELECT 'a\'", unterminated(1, STRING)),
            (&[MY], r#"SELECT "a\""#, unterminated(1, STRING)),
            (&[PG], r"SELECT E'a\'", unterminated(1, STRING)),
            (&[MY, LITE], "SELECT `a", unterminated(1, IDENT)),
            (&[LITE], "SELECT [a", unterminated(1, IDENT)),
            (&[PG], "/* a /* b */ SELECT 1;", unterminated(1, COMMENT)),
            (&[PG], "SELECT 1;\nSELECT $$ x;", unterminated(2, DOLLAR)),
            (&[PG], "SELECT $fn$ x $fn; $Fn$", unterminated(1, DOLLAR)),
            (&[MY], "/*! SET x = 1", unterminated(1, COMMENT)),
            (
                &[LITE],
                "SELECT 1;\nCREATE TRIGGER tr AFTER INSERT ON t\nBEGIN SELECT 1;",
                unterminated(3, BODY),
            ),
            (
                &[LITE],
                "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT CASE WHEN 1 THEN 2 END;",
                unterminated(1, BODY),
            ),
            (
                &[MY],
                "CREATE PROCEDURE p()\nBEGIN\nIF a THEN SELECT 1; END IF;\n",
                unterminated(2, BODY),
            ),
            (
                &[PG],
                "CREATE FUNCTION f() RETURNS int\nBEGIN ATOMIC SELECT 1;",
                unterminated(2, BODY),
            ),
            (
                &[MY],
                "SELECT 1;\nDELIMITER\nSELECT 2",
                SplitError::EmptyDelimiter { line: 2 },
            ),
            (
                &[MY],
                "DELIMITER   \t",
                SplitError::EmptyDelimiter { line: 1 },
            ),
            (
                &[MY],
                "DELIMITER $$\nSELECT 1$$\ndelimiter\n",
                SplitError::EmptyDelimiter { line: 3 },
            ),
        ];
        for (engines, sql, want) in cases {
            for &engine in *engines {
                assert_eq!(split(sql, engine).as_ref(), Err(want), "{engine}: {sql:?}");
            }
        }
    }

    #[test]
    fn error_messages() {
        let err = SplitError::Unterminated {
            line: 3,
            what: DOLLAR,
        };
        assert_eq!(
            err.to_string(),
            "line 3: unterminated dollar-quoted string $tag$ opened here"
        );
        assert_eq!(
            SplitError::EmptyDelimiter { line: 2 }.to_string(),
            "line 2: DELIMITER needs a delimiter, e.g. `DELIMITER $$`"
        );
    }

    #[test]
    fn long_delimiter_is_truncated_like_the_mysql_client() {
        let sql = "DELIMITER abcdefghijklmnopq\nSELECT 1 abcdefghijklmnopq SELECT 2";
        assert_eq!(texts(sql, MY), ["SELECT 1", "pq SELECT 2"]);
    }

    #[test]
    fn large_inputs_are_linear() {
        // Pathological shapes that would be quadratic with naive rescans.
        let n = 200_000;
        let dollars = format!("SELECT $a{}", "$ab".repeat(n));
        assert!(split(&dollars, PG).is_err());
        let delim = format!("DELIMITER aaaaaaaaaaaaaab\n{}", "a".repeat(n));
        assert_eq!(split(&delim, MY).map(|s| s.len()), Ok(1));
        let ends = format!(
            "CREATE PROCEDURE p() BEGIN {} {} END",
            "IF a THEN ".repeat(n / 10),
            "END LOOP; ".repeat(n / 10)
        );
        assert_eq!(split(&ends, MY).map(|s| s.len()), Ok(1));
        let nested = format!("/*{}", "/*".repeat(n));
        assert!(split(&nested, PG).is_err());
    }

    // ---- properties ----

    fn engine() -> impl Strategy<Value = Engine> {
        prop::sample::select(Engine::ALL.to_vec())
    }

    /// Fragments that exercise every lexer state.
    const FRAGMENTS: &[&str] = &[
        ";",
        ";",
        " ",
        " ",
        "\n",
        "\r",
        "\t",
        "'",
        "''",
        "\"",
        "`",
        "[",
        "]",
        "$",
        "$$",
        "$a$",
        "$1",
        "-",
        "--",
        "-- ",
        "#",
        "/*",
        "*/",
        "/*!",
        "\\",
        "E'",
        "x",
        "1",
        "é",
        "(",
        ")",
        ":",
        "BEGIN",
        "end",
        "END IF",
        "CASE",
        "if",
        "IF(",
        "LOOP",
        "REPEAT",
        "WHILE",
        "THEN",
        "ATOMIC",
        "CREATE ",
        "TRIGGER ",
        "procedure ",
        "TABLE ",
        "EXISTS",
        "DELIMITER",
        "DELIMITER $$\n",
        "DELIMITER ;\n",
    ];

    fn fragments(allow_delimiter: bool) -> impl Strategy<Value = String> {
        let pool: Vec<&'static str> = FRAGMENTS
            .iter()
            .copied()
            .filter(|f| allow_delimiter || !f.contains("DELIMITER"))
            .collect();
        prop::collection::vec(prop::sample::select(pool), 0..40).prop_map(|v| v.concat())
    }

    /// A token that may start or end a statement.
    fn token(engine: Engine) -> BoxedStrategy<String> {
        let mut options: Vec<BoxedStrategy<String>> = vec![
            "t_[a-z0-9_]{0,6}".boxed(),
            "[0-9]{1,5}".boxed(),
            prop::sample::select(vec!["SELECT", "FROM", "(", ")", ",", "=", "*", "+"])
                .prop_map(str::to_owned)
                .boxed(),
            "'([a-z ;\n]|''){0,6}'".boxed(),
        ];
        match engine {
            Engine::Postgres => {
                options.push("\"([a-z ;]|\"\"){1,5}\"".boxed());
                options.push("\\$\\$[a-z ;\n]{0,6}\\$\\$".boxed());
                options.push("\\$body\\$[a-z ;$\n]{0,5}\\$body\\$".boxed());
                options.push(Just("$fn$ $$ ; $f $fn$".to_owned()).boxed());
                options.push(Just(r"E'it\'s; ok'".to_owned()).boxed());
                options.push(Just("$1".to_owned()).boxed());
            }
            Engine::Mysql => {
                options.push("`([a-z ;]|``){1,5}`".boxed());
                options.push("\"([a-z ;]|\"\"){0,5}\"".boxed());
                options.push(Just(r"'it\'s; ok'".to_owned()).boxed());
                options.push(Just(r#""\";""#.to_owned()).boxed());
            }
            Engine::Sqlite => {
                options.push("\\[[a-z ;]{1,5}\\]".boxed());
                options.push("`([a-z ;]|``){1,5}`".boxed());
                options.push("\"([a-z ;]|\"\"){1,5}\"".boxed());
            }
        }
        prop::strategy::Union::new(options).boxed()
    }

    /// Comments, allowed between the tokens of a statement.
    fn comment(engine: Engine) -> BoxedStrategy<String> {
        let mut options: Vec<BoxedStrategy<String>> = vec![
            "/\\* [a-z ;\n]{0,6} \\*/".boxed(),
            "-- [a-z ;']{0,6}\n".boxed(),
        ];
        match engine {
            Engine::Postgres => options.push(Just("/* a /* ; */ b; */".to_owned()).boxed()),
            Engine::Mysql => options.push("#[a-z ;']{0,6}\n".boxed()),
            Engine::Sqlite => {}
        }
        prop::strategy::Union::new(options).boxed()
    }

    /// Whole statements with bodies.
    fn body(engine: Engine) -> &'static str {
        match engine {
            Engine::Postgres => {
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END"
            }
            Engine::Mysql => {
                "CREATE PROCEDURE p() BEGIN IF a THEN SELECT 1; END IF; l: LOOP LEAVE l; END LOOP; END"
            }
            Engine::Sqlite => {
                "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT CASE WHEN 1 THEN 2 END; SELECT 3; END"
            }
        }
    }

    fn statement(engine: Engine) -> BoxedStrategy<String> {
        let middle =
            prop::collection::vec(prop_oneof![3 => token(engine), 1 => comment(engine)], 0..4);
        let simple = (token(engine), middle, token(engine)).prop_map(|(first, middle, last)| {
            let mut parts = vec![first];
            parts.extend(middle);
            parts.push(last);
            parts.join(" ")
        });
        prop_oneof![8 => simple, 1 => Just(body(engine).to_owned())].boxed()
    }

    fn script() -> impl Strategy<Value = (Engine, Vec<String>)> {
        engine()
            .prop_flat_map(|engine| (Just(engine), prop::collection::vec(statement(engine), 1..6)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn never_panics_on_any_string(sql in any::<String>(), engine in engine()) {
            let _ = split(&sql, engine);
        }

        #[test]
        fn never_panics_on_fragments(sql in fragments(true), engine in engine()) {
            if let Ok(stmts) = split(&sql, engine) {
                let mut last_line = 1;
                for stmt in stmts {
                    prop_assert!(!stmt.sql.is_empty());
                    prop_assert_eq!(stmt.sql.trim(), stmt.sql.as_str());
                    prop_assert!(stmt.line >= last_line);
                    last_line = stmt.line;
                }
            }
        }

        #[test]
        fn joined_statements_split_back((engine, stmts) in script()) {
            let sql = stmts.join(";\n");
            let got = split(&sql, engine);
            prop_assert!(got.is_ok(), "{}: {:?}: {:?}", engine, sql, got);
            let got = got.unwrap_or_default();
            let mut line = 1;
            let mut want = Vec::new();
            for stmt in &stmts {
                want.push((line, stmt.clone()));
                line += stmt.matches('\n').count() + 1;
            }
            let got: Vec<(usize, String)> = got.into_iter().map(|s| (s.line, s.sql)).collect();
            prop_assert_eq!(got, want, "{}: {:?}", engine, sql);
        }

        #[test]
        fn splitting_is_idempotent(engine in engine(), sql in fragments(false)) {
            if let Ok(stmts) = split(&sql, engine) {
                let texts: Vec<String> = stmts.into_iter().map(|s| s.sql).collect();
                let again = split(&texts.join(";\n"), engine);
                prop_assert!(again.is_ok(), "{}: {:?} -> {:?}", engine, texts, again);
                let again: Vec<String> =
                    again.unwrap_or_default().into_iter().map(|s| s.sql).collect();
                prop_assert_eq!(again, texts, "{}: {:?}", engine, sql);
            }
        }
    }
}

#[cfg(test)]
mod rules_tests {
    use super::*;
    use crate::dialect::for_engine;

    #[test]
    fn each_family_splits_by_its_own_rules() {
        // `#` comments out the `;` on MySQL only.
        let sql = "SELECT 1 # c;\nSELECT 2";
        let count = |engine: Engine| {
            split_with(sql, &for_engine(engine).split_rules())
                .unwrap()
                .len()
        };
        assert_eq!(
            Engine::ALL.map(|engine| (engine, count(engine))),
            [
                (Engine::Postgres, 2),
                (Engine::Mysql, 1),
                (Engine::Sqlite, 2)
            ]
        );
        assert!(for_engine(Engine::Sqlite).split_rules().bracket_identifiers);
        assert!(for_engine(Engine::Mysql).split_rules().delimiter_directive);
    }

    #[test]
    fn a_product_adjusts_one_rule_of_its_family() {
        // A PostgreSQL-like product without dollar quotes: `$$` is punctuation.
        let mut rules = for_engine(Engine::Postgres).split_rules();
        assert!(rules.dollar_quotes);
        rules.dollar_quotes = false;
        let sql = "SELECT $$a;b$$";
        let texts = |rules: &SplitRules| -> Vec<String> {
            split_with(sql, rules)
                .unwrap()
                .into_iter()
                .map(|s| s.sql)
                .collect()
        };
        assert_eq!(texts(&for_engine(Engine::Postgres).split_rules()), [sql]);
        assert_eq!(texts(&rules), ["SELECT $$a", "b$$"]);
    }
}
