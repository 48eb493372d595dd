import { CsvError, parse } from 'csv-parse/sync';
import { InputError } from '../util/errors.js';

/**
 * The one CSV reader behind the trace loader (src/series/csv.ts) and the promo calendar
 * (src/events/events.ts): RFC 4180 as csv-parse reads it, so a quoted cell may hold commas, doubled quotes
 * and line breaks.
 */

/** One record of the file: its cells, trimmed, and the 1-based line of the file where it starts. */
export interface CsvRow {
  readonly cells: string[];
  readonly line: number;
}

export interface CsvTableOptions {
  /** The file named in errors. */
  readonly source: string;
  /** How an error names the line; default `${source}:${line}`. */
  readonly where?: (line: number) => string;
}

const OPTIONS = {
  record_delimiter: ['\r\n', '\n', '\r'],
  trim: true,
  // Blank lines come through as records of one empty cell, so that every record but the last ends one line
  // and line numbers can be counted from the records alone; they are dropped below.
  skip_empty_lines: false,
  relax_column_count: true,
};

/** The line breaks inside a record's cells (only quoted cells hold any); CRLF, LF and a lone CR count once. */
function breaksIn(record: readonly string[]): number {
  let n = 0;
  for (const cell of record) {
    if (cell.indexOf('\n') < 0 && cell.indexOf('\r') < 0) continue;
    n += cell.match(/\r\n|\n|\r/g)?.length ?? 0;
  }
  return n;
}

/** Rows with their start lines: every record ends with one line break past those its quoted cells hold. */
function numbered(records: readonly string[][]): { rows: CsvRow[]; next: number } {
  const rows: CsvRow[] = [];
  let line = 1;
  for (const record of records) {
    const cells = record.map((c) => c.trim());
    if (cells.length > 1 || cells[0] !== '') rows.push({ cells, line });
    line += 1 + breaksIn(record);
  }
  return { rows, next: line };
}

/** The rule a csv-parse error code stands for, in the words of our messages. */
function ruleBroken(err: CsvError): string {
  switch (err.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'unterminated quoted field';
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return 'text after a closing quote';
    case 'INVALID_OPENING_QUOTE':
      return 'a quote inside an unquoted field (quote the whole field and double the quotes in it: "5"" screen")';
    default:
      return `not valid CSV: ${err.message}`;
  }
}

/**
 * Reads CSV text into rows. A leading BOM is dropped; lines may end in CRLF, LF or CR, mixed. Cells are
 * trimmed, quoted or not. Lines holding nothing but whitespace (or one empty quoted value) are skipped, and
 * rows may differ in length: the callers check the cells against their header. A record whose quoted cell
 * holds line breaks reports the line it starts on, and the lines after it keep their numbers. Errors are
 * InputErrors naming the line where the broken record starts and the rule: `f.csv:7: unterminated quoted
 * field`. Linear in the size of the text.
 */
export function readCsvTable(text: string, o: CsvTableOptions): CsvRow[] {
  const where = o.where ?? ((line: number) => `${o.source}:${line}`);
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let records: string[][];
  try {
    records = parse(body, OPTIONS);
  } catch (err: unknown) {
    if (!(err instanceof CsvError)) throw err;
    // The records before the broken one parse again alone; the broken one starts on the line after them.
    const before = typeof err.records === 'number' && err.records > 0 ? parse(body, { ...OPTIONS, to: err.records }) : [];
    throw new InputError(`${where(numbered(before).next)}: ${ruleBroken(err)}`, { cause: err });
  }
  return numbered(records).rows;
}
