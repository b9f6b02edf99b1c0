//! The tables of the exports, built once and written in the form asked for:
//!
//! - **CSV**, for programs: the columns and spellings PROTOCOL.md documents (English keys, times
//!   in milliseconds or ISO 8601), every cell through [`csv_cell`] so that no text a participant
//!   wrote reaches a spreadsheet as a formula;
//! - **a spreadsheet** (`.xlsx`), for people: the headers in their language, numbers as numbers,
//!   instants as dates and times in their time zone, lengths of time as `h:mm:ss`, one sheet per
//!   table. A French spreadsheet opens a CSV with the wrong separator and the wrong encoding; an
//!   `.xlsx` has neither problem. Text is written as text: a spreadsheet never runs it.
//!
//! `?format=csv` or `?format=xlsx` (JSON, the default, is each export's own); for `xlsx`,
//! `lang=fr` (default) or `en`, and `tz`, an IANA time zone (`Europe/Paris`; default `UTC`).

use axum::http::header;
use axum::response::{IntoResponse, Response};
use convene_protocol::ErrorCode;
use rust_xlsxwriter::{Format as CellFormat, FormatAlign, Workbook};
use serde::Deserialize;

use super::api::ApiResult;
use super::ApiError;

/// The query of every export: `format`, and for spreadsheets `lang` and `tz`.
#[derive(Deserialize, Default)]
pub struct OutputQuery {
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
    /// Spreadsheets only: the headers' language, `fr` (default) or `en`.
    pub lang: Option<String>,
    /// Spreadsheets only: the IANA time zone of the dates and times (default `UTC`).
    pub tz: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lang {
    Fr,
    En,
}

/// What an export is asked for, checked once.
pub enum Output {
    Json,
    Csv,
    Sheet { lang: Lang, tz: jiff::tz::TimeZone },
}

impl OutputQuery {
    pub fn output(&self) -> ApiResult<Output> {
        let invalid = |m: String| ApiError::new(ErrorCode::Invalid, m);
        match self.format.as_deref() {
            None | Some("json") => Ok(Output::Json),
            Some("csv") => Ok(Output::Csv),
            Some("xlsx") => {
                let lang = match self.lang.as_deref() {
                    None | Some("fr") => Lang::Fr,
                    Some("en") => Lang::En,
                    Some(other) => return Err(invalid(format!("lang {other:?}: fr or en"))),
                };
                let tz = match self.tz.as_deref() {
                    None | Some("UTC") => jiff::tz::TimeZone::UTC,
                    Some(name) if name.len() <= 64 => {
                        jiff::tz::TimeZone::get(name).map_err(|_| {
                            invalid(format!(
                                "tz {name:?}: not a time zone (an IANA name such as Europe/Paris)"
                            ))
                        })?
                    }
                    Some(_) => return Err(invalid("tz: longer than 64 bytes".into())),
                };
                Ok(Output::Sheet { lang, tz })
            }
            Some(other) => Err(invalid(format!("format {other:?}: json, csv or xlsx"))),
        }
    }
}

/// One cell. What it holds decides how each form writes it.
#[derive(Clone, Debug)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A number shown with one decimal (a percentage).
    Decimal(f64),
    /// An instant (Unix milliseconds), written in the CSV as milliseconds.
    Millis(i64),
    /// An instant (Unix milliseconds), written in the CSV as ISO 8601 UTC.
    Iso(i64),
    /// A length of time in milliseconds (may be negative: a drift).
    Duration(i64),
    /// A calendar day, `YYYY-MM-DD`.
    Day(String),
    /// Yes or no, with the CSV's words for each (`["yes", "no"]`, `["true", "false"]`).
    Flag(bool, [&'static str; 2]),
    /// A fixed word: its CSV spelling, French, English.
    Word(&'static str, &'static str, &'static str),
    Blank,
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}
impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}
impl From<&String> for Cell {
    fn from(s: &String) -> Self {
        Cell::Text(s.clone())
    }
}
macro_rules! int_cells {
    ($($t:ty),*) => {$(
        impl From<$t> for Cell {
            fn from(n: $t) -> Self {
                Cell::Int(n as i64)
            }
        }
    )*};
}
int_cells!(u32, u64, i64, usize);
impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Cell::Blank, Into::into)
    }
}

impl Cell {
    pub fn millis(at: Option<u64>) -> Cell {
        at.map_or(Cell::Blank, |a| Cell::Millis(a as i64))
    }
    pub fn duration(ms: Option<i64>) -> Cell {
        ms.map_or(Cell::Blank, Cell::Duration)
    }
}

/// `part` of `whole` in percent, unrounded (a `Cell::Decimal` shows one decimal); 0 of nothing.
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    part as f64 * 100.0 / whole as f64
}

/// A row of cells of different kinds: `row![a, b, c]`, each through `Into<Cell>`.
macro_rules! row {
    ($($c:expr),* $(,)?) => {
        vec![$($crate::gateway::table::Cell::from($c)),*]
    };
}
pub(crate) use row;

/// A column: its CSV key, its French and English headers (a column of instants gets the time
/// zone after its header in a spreadsheet).
#[derive(Clone, Debug)]
pub struct Col {
    key: String,
    fr: String,
    en: String,
}

pub fn col(key: impl Into<String>, fr: impl Into<String>, en: impl Into<String>) -> Col {
    Col {
        key: key.into(),
        fr: fr.into(),
        en: en.into(),
    }
}

/// One table: a spreadsheet's sheet; in a CSV of several, introduced by a row
/// `# {name}, {caption}`.
pub struct Sheet {
    name: String,
    caption: Option<String>,
    cols: Vec<Col>,
    rows: Vec<Vec<Cell>>,
}

impl Sheet {
    pub fn new(name: impl Into<String>, cols: Vec<Col>) -> Sheet {
        Sheet {
            name: name.into(),
            caption: None,
            cols,
            rows: Vec::new(),
        }
    }
    pub fn caption(mut self, caption: impl Into<String>) -> Sheet {
        self.caption = Some(caption.into());
        self
    }
    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }
}

/// JSON (`json` as it is), or the export's tables (made only then) in the form asked for.
pub async fn respond<T: serde::Serialize>(
    out: Output,
    json: T,
    tables: impl FnOnce() -> Export,
) -> ApiResult<Response> {
    match out {
        Output::Json => Ok(axum::Json(json).into_response()),
        out => tables().respond(out).await,
    }
}

/// An export: a file name (without extension) and its tables.
pub struct Export {
    pub file: String,
    pub sheets: Vec<Sheet>,
}

impl Export {
    pub fn one(file: impl Into<String>, sheet: Sheet) -> Export {
        Export {
            file: file.into(),
            sheets: vec![sheet],
        }
    }

    /// The export as CSV (`Output::Csv`) or as a spreadsheet (`Output::Sheet`); `json` is the
    /// caller's (it never gets here).
    pub async fn respond(self, out: Output) -> ApiResult<Response> {
        match out {
            Output::Sheet { lang, tz } => {
                let file = self.file.clone();
                // Compressing a large workbook is CPU work: off the runtime's workers.
                let bytes = tokio::task::spawn_blocking(move || self.xlsx(lang, &tz))
                    .await
                    .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?
                    .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
                Ok(download(
                    &file,
                    "xlsx",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    bytes,
                ))
            }
            _ => Ok(download(
                &self.file,
                "csv",
                "text/csv; charset=utf-8",
                self.csv().into_bytes(),
            )),
        }
    }

    /// One table: its header and rows. Several: each after its `# name, caption` row.
    pub fn csv(&self) -> String {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::new());
        let several = self.sheets.len() > 1 || self.sheets.iter().any(|s| s.caption.is_some());
        for s in &self.sheets {
            let mut record = |cells: Vec<String>| {
                let cells: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
                // Writing to a Vec cannot fail (flexible rows: no length error either).
                let _ = w.write_record(&cells);
            };
            if several {
                record(vec![
                    format!("# {}", s.name),
                    s.caption.clone().unwrap_or_default(),
                ]);
            }
            record(s.cols.iter().map(|c| c.key.clone()).collect());
            for r in &s.rows {
                record(r.iter().map(csv_text).collect());
            }
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    fn xlsx(
        &self,
        lang: Lang,
        tz: &jiff::tz::TimeZone,
    ) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        let mut book = Workbook::new();
        let bold = CellFormat::new().set_bold();
        let wrap = CellFormat::new()
            .set_text_wrap()
            .set_align(FormatAlign::Top);
        let (instant, day) = match lang {
            Lang::Fr => ("dd/mm/yyyy hh:mm:ss", "dd/mm/yyyy"),
            Lang::En => ("yyyy-mm-dd hh:mm:ss", "yyyy-mm-dd"),
        };
        let instant = CellFormat::new().set_num_format(instant);
        let day = CellFormat::new().set_num_format(day);
        let length = CellFormat::new().set_num_format("[h]:mm:ss");
        let decimal = CellFormat::new().set_num_format("0.0");
        let zone = tz.iana_name().unwrap_or("UTC").to_string();
        let mut names: Vec<String> = Vec::new();
        if self.sheets.is_empty() {
            // A spreadsheet has at least one sheet: it says there is nothing (no poll yet).
            let sheet = book.add_worksheet();
            let none = match lang {
                Lang::Fr => "Aucune donnée pour l'instant.",
                Lang::En => "Nothing yet.",
            };
            sheet.write_string(0, 0, none)?;
        }
        for s in &self.sheets {
            let sheet = book.add_worksheet();
            let name = sheet_name(&s.name, &names);
            sheet.set_name(&name)?;
            names.push(name);
            let mut r: u32 = 0;
            if let Some(c) = &s.caption {
                sheet.write_string_with_format(r, 0, c, &bold)?;
                r += 1;
            }
            // A column of instants says in which zone they are.
            let times: Vec<bool> = (0..s.cols.len())
                .map(|i| {
                    s.rows
                        .iter()
                        .any(|row| matches!(row.get(i), Some(Cell::Millis(_) | Cell::Iso(_))))
                })
                .collect();
            for (i, c) in s.cols.iter().enumerate() {
                let label = match lang {
                    Lang::Fr => &c.fr,
                    Lang::En => &c.en,
                };
                let label = if times[i] {
                    format!("{label} ({zone})")
                } else {
                    label.clone()
                };
                sheet.write_string_with_format(r, i as u16, &label, &bold)?;
            }
            sheet.set_freeze_panes(r + 1, 0)?;
            r += 1;
            for row in &s.rows {
                for (i, cell) in row.iter().enumerate() {
                    let c = i as u16;
                    match cell {
                        Cell::Text(t) if t.contains('\n') => {
                            sheet.write_string_with_format(r, c, fit(t).as_ref(), &wrap)?;
                        }
                        Cell::Text(t) => {
                            sheet.write_string(r, c, fit(t).as_ref())?;
                        }
                        Cell::Int(n) => {
                            sheet.write_number(r, c, *n as f64)?;
                        }
                        Cell::Decimal(x) => {
                            sheet.write_number_with_format(r, c, *x, &decimal)?;
                        }
                        Cell::Millis(ms) | Cell::Iso(ms) => {
                            sheet.write_number_with_format(r, c, serial(*ms, tz), &instant)?;
                        }
                        Cell::Duration(ms) => {
                            sheet.write_number_with_format(
                                r,
                                c,
                                *ms as f64 / 86_400_000.0,
                                &length,
                            )?;
                        }
                        Cell::Day(d) => match day_serial(d) {
                            Some(v) => {
                                sheet.write_number_with_format(r, c, v, &day)?;
                            }
                            None => {
                                sheet.write_string(r, c, d)?;
                            }
                        },
                        Cell::Flag(b, _) => {
                            sheet.write_boolean(r, c, *b)?;
                        }
                        Cell::Word(_, fr, en) => {
                            sheet.write_string(r, c, if lang == Lang::Fr { *fr } else { *en })?;
                        }
                        Cell::Blank => {}
                    }
                }
                r += 1;
            }
            sheet.autofit();
        }
        book.save_to_buffer()
    }
}

/// The most characters a spreadsheet's cell holds.
const CELL_CHARS: usize = 32_767;

/// A text as a cell takes it: one longer than a cell holds (no input of the server's reaches
/// that, but a spreadsheet would refuse the whole file) is cut, with `…` at the end; the CSV
/// and JSON forms keep it whole.
fn fit(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= CELL_CHARS || text.chars().count() <= CELL_CHARS {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut cut: String = text.chars().take(CELL_CHARS - 1).collect();
    cut.push('…');
    std::borrow::Cow::Owned(cut)
}

/// The days from Excel's epoch (1899-12-30) to the Unix epoch.
const EXCEL_UNIX_DAYS: f64 = 25_569.0;

/// An instant as a spreadsheet's date and time: days since 1899-12-30, in the zone's local
/// time of that instant (summer time included).
fn serial(ms: i64, tz: &jiff::tz::TimeZone) -> f64 {
    let offset_ms = jiff::Timestamp::from_millisecond(ms)
        .map(|t| i64::from(tz.to_offset(t).seconds()) * 1000)
        .unwrap_or(0);
    (ms + offset_ms) as f64 / 86_400_000.0 + EXCEL_UNIX_DAYS
}

/// `YYYY-MM-DD` as a spreadsheet's date.
fn day_serial(day: &str) -> Option<f64> {
    let d: jiff::civil::Date = day.parse().ok()?;
    let days = d.since(jiff::civil::date(1970, 1, 1)).ok()?.get_days();
    Some(f64::from(days) + EXCEL_UNIX_DAYS)
}

/// A sheet's name as spreadsheets allow it: at most 31 characters, none of `[]:*?/\`, unique
/// in its workbook.
fn sheet_name(name: &str, taken: &[String]) -> String {
    let clean: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(31)
        .collect();
    let clean = if clean.trim().is_empty() {
        "1".to_string()
    } else {
        clean
    };
    let mut candidate = clean.clone();
    let mut n = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&candidate)) {
        let suffix = format!(" ({n})");
        let keep: String = clean.chars().take(31 - suffix.chars().count()).collect();
        candidate = format!("{keep}{suffix}");
        n += 1;
    }
    candidate
}

/// A cell's text in the CSV.
fn csv_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => t.clone(),
        Cell::Int(n) => n.to_string(),
        Cell::Decimal(x) => format!("{x:.1}"),
        Cell::Millis(ms) | Cell::Duration(ms) => ms.to_string(),
        Cell::Iso(ms) => crate::domain::attendance::timestamp((*ms).max(0) as u64),
        Cell::Day(d) => d.clone(),
        Cell::Flag(b, [yes, no]) => if *b { *yes } else { *no }.to_string(),
        Cell::Word(csv, _, _) => csv.to_string(),
        Cell::Blank => String::new(),
    }
}

/// A CSV cell as a spreadsheet will not run it (OWASP, CSV injection): text that starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, which spreadsheets show
/// as text. A plain number (`-2`, a scale value) is left as it is: it cannot be a formula.
fn csv_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) && !plain_number(text) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// `-?digits(.digits)?`: what a spreadsheet reads as a number and nothing else.
fn plain_number(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let mut parts = unsigned.split('.');
    let whole = parts.next().unwrap_or_default();
    let frac = parts.next();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    parts.next().is_none() && digits(whole) && frac.is_none_or(digits)
}

/// A file to download.
fn download(name: &str, ext: &str, mime: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{ext}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_would_run_get_a_quote_and_numbers_stay() {
        for (text, want) in [
            ("=1+1", "'=1+1"),
            ("+33 6", "'+33 6"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-2", "-2"),
            ("-0.5", "-0.5"),
            ("-", "'-"),
            ("-.5", "'-.5"),
            ("-1.", "'-1."),
            ("-1.2.3", "'-1.2.3"),
            ("Transports de nuit", "Transports de nuit"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(csv_cell(text), want, "{text:?}");
        }
    }

    #[test]
    fn a_newline_stays_inside_its_cell() {
        let mut s = Sheet::new("q1", vec![col("a", "a", "a"), col("b", "b", "b")])
            .caption("Question ?\n=1+1");
        s.push(row!["=a", 2u32]);
        let e = Export::one("x", s);
        assert_eq!(e.csv(), "# q1,\"Question ?\n=1+1\"\na,b\n'=a,2\n");
    }

    #[test]
    fn instants_are_local_times_of_their_zone_summer_and_winter() {
        let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        // 2026-07-01T10:00:00Z is noon in Paris (UTC+2); 2026-12-07T10:00:00Z is 11:00 (UTC+1).
        let summer = 1_782_900_000_000_i64;
        let winter = 1_796_637_600_000_i64;
        let hours = |v: f64| ((v.fract() * 24.0) * 1000.0).round() / 1000.0;
        assert_eq!(hours(serial(summer, &paris)), 12.0);
        assert_eq!(hours(serial(winter, &paris)), 11.0);
        assert_eq!(hours(serial(winter, &jiff::tz::TimeZone::UTC)), 10.0);
        // 2026-12-07 is day 46,363 of Excel's calendar.
        assert_eq!(serial(winter, &paris).floor(), 46_363.0);
        assert_eq!(day_serial("2026-12-07"), Some(46_363.0));
        assert_eq!(day_serial("7 décembre"), None);
    }

    #[test]
    fn a_text_longer_than_a_cell_is_cut_not_refused() {
        let long = "é".repeat(40_000);
        let mut s = Sheet::new("t", vec![col("text", "Texte", "Text")]);
        s.push(row![&long]);
        let e = Export::one("t", s);
        assert!(e.xlsx(Lang::Fr, &jiff::tz::TimeZone::UTC).is_ok());
        assert_eq!(fit(&long).chars().count(), CELL_CHARS);
        assert!(fit(&long).ends_with('…'));
        assert_eq!(fit("court"), "court");
        assert!(e.csv().contains(&long), "the CSV keeps it whole");
    }

    #[test]
    fn an_export_of_nothing_is_still_a_spreadsheet() {
        let e = Export {
            file: "polls-x".into(),
            sheets: Vec::new(),
        };
        let bytes = e.xlsx(Lang::Fr, &jiff::tz::TimeZone::UTC).unwrap();
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        assert_eq!(e.csv(), "");
    }

    #[test]
    fn sheet_names_are_what_spreadsheets_take() {
        let taken = vec!["q1".to_string()];
        assert_eq!(sheet_name("Q1", &taken), "Q1 (2)");
        assert_eq!(sheet_name("a/b:c", &[]), "a_b_c");
        assert_eq!(sheet_name(&"x".repeat(40), &[]).chars().count(), 31);
        let long = "y".repeat(40);
        let first = sheet_name(&long, &[]);
        let second = sheet_name(&long, std::slice::from_ref(&first));
        assert_ne!(first, second);
        assert_eq!(second.chars().count(), 31);
    }
}
