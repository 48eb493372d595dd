import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { readCsvTable } from '../../src/series/csv-table.js';
import { InputError } from '../../src/util/errors.js';

const read = (text: string) => readCsvTable(text, { source: 'f.csv' });

function readError(text: string, where?: (line: number) => string): string {
  try {
    readCsvTable(text, { source: 'f.csv', where });
  } catch (err: unknown) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected an InputError');
}

describe('readCsvTable', () => {
  it('reads quoted cells holding commas, doubled quotes and line breaks, and numbers rows by the line they start on', () => {
    const text = 'name,qps\n"a, b",1\n"say ""hi""\nthen\r\nleave",2\n\n  \nc,3';
    expect(read(text)).toEqual([
      { cells: ['name', 'qps'], line: 1 },
      { cells: ['a, b', '1'], line: 2 },
      { cells: ['say "hi"\nthen\r\nleave', '2'], line: 3 },
      { cells: ['c', '3'], line: 8 },
    ]);
  });

  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ])('drops a BOM and ends lines on %s', (_label, eol) => {
    const text = `\uFEFFtime,v${eol}2024-03-01,1${eol}${eol}2024-03-02,2${eol}`;
    expect(read(text)).toEqual([
      { cells: ['time', 'v'], line: 1 },
      { cells: ['2024-03-01', '1'], line: 2 },
      { cells: ['2024-03-02', '2'], line: 4 },
    ]);
  });

  it('reads mixed line endings, each ending one line', () => {
    expect(read('a\r\nb\nc\rd').map((r) => [r.cells[0], r.line])).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
      ['d', 4],
    ]);
  });

  it('trims cells, quoted or not, keeps rows of any length, and skips blank lines and lone empty values', () => {
    expect(read(' a , " b " ,c\n\t\n""\nx\n1,2,3,4\n')).toEqual([
      { cells: ['a', 'b', 'c'], line: 1 },
      { cells: ['x'], line: 4 },
      { cells: ['1', '2', '3', '4'], line: 5 },
    ]);
    expect(read('')).toEqual([]);
    expect(read('\n \r\n')).toEqual([]);
  });

  it.each([
    ['an unclosed quote', 'time,v\n2024-03-01,1\n"2024-03-02,2\n2024-03-03,3\n', 'f.csv:3: unterminated quoted field'],
    ['an unclosed quote after a record over three lines', 'name,v\n"a\nb\nc",1\n\nx,"2\n', 'f.csv:6: unterminated quoted field'],
    ['an unclosed quote on line 1', '"time,v\n1,2\n', 'f.csv:1: unterminated quoted field'],
    ['text after a closing quote', 'a,b\n"x"y,1\n', 'f.csv:2: text after a closing quote'],
    ['text after a closing quote and a space', 'a,b\n\n"x" y,1\n', 'f.csv:3: text after a closing quote'],
    ['a quote inside an unquoted cell', 'a,b\r\n1,2\r\n5" screen,3\r\n', 'f.csv:3: a quote inside an unquoted field (quote the whole field and double the quotes in it: "5"" screen")'],
  ])('names the file, the line where the broken record starts and the rule for %s', (_label, text, message) => {
    expect(readError(text)).toBe(message);
  });

  it('names the line as the caller asks', () => {
    expect(readError('time,v\n"1,2\n', (line) => `trace.csv: line ${line}`)).toBe('trace.csv: line 2: unterminated quoted field');
  });

  it('reads back any table written the RFC 4180 way, with the line each row starts on', () => {
    const cell = fc.string({ maxLength: 8, unit: fc.constantFrom('a', 'b', ' ', ',', '"', '\n', '\r', 'é') }).map((s) => s.trim());
    const eol = fc.constantFrom('\n', '\r\n', '\r');
    const row = fc.array(cell, { minLength: 2, maxLength: 4 });
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 6 }), eol, (rows, nl) => {
        const quote = (c: string) => (/[",\r\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
        const lines = rows.map((r) => r.map(quote).join(','));
        let line = 1;
        const want = rows.map((cells, i) => {
          const at = line;
          line += lines[i].split(/\r\n|\n|\r/).length;
          return { cells, line: at };
        });
        expect(read(lines.join(nl) + nl)).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws anything but an InputError, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60, unit: fc.constantFrom('a', '1', ' ', ',', '"', '\n', '\r', '\uFEFF', '\t') }), (text) => {
        try {
          read(text);
        } catch (err: unknown) {
          if (!(err instanceof InputError)) throw err;
          expect(err.message).toMatch(/^f\.csv:\d+: /);
        }
      }),
      { numRuns: 500 },
    );
  });
});
