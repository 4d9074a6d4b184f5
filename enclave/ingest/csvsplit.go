package ingest

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// csvSplitter splits CSV input into records in the dialect of
// encoding/csv's default Reader (RFC 4180 with its leniencies): fields
// separated by commas, records by LF or CRLF, fields optionally in double
// quotes with a doubled quote for a quote; a quoted field may hold commas
// and line breaks (a CRLF inside one reads as LF); empty lines are
// skipped; a CR right before the end of the input is dropped; a quote in
// an unquoted field (csv.ErrBareQuote), or a quoted field that does not
// end in a quote followed by a comma or the end of the line
// (csv.ErrQuote), is an error. FuzzCSVSplitter checks it against
// encoding/csv record by record.
//
// Unlike encoding/csv it does not allocate per record or field: fields
// are slices of its read buffer (quoted fields unescaped in place), valid
// until the next call of next. A physical line longer than maxLine bytes
// is refused (errLineTooLong) before it is buffered, and a record (lines
// joined by quoted line breaks) longer than maxRecord, so memory stays
// bounded by about maxRecord whatever the input.
type csvSplitter struct {
	r         io.Reader
	buf       []byte
	pos, end  int   // unread input is buf[pos:end]
	eof       bool  // r returned io.EOF
	rerr      error // r's error other than io.EOF
	line      int   // the 1-based line of buf[pos]
	read      int64 // bytes consumed by records returned so far
	maxLine   int
	maxRecord int

	recStart int   // where the record being parsed starts in buf
	recLine  int   // the line the last record started on
	bounds   []int // start and end of each field, relative to recStart
}

// csvSplitError is a parse error at a record: csv.ErrBareQuote,
// csv.ErrQuote, errLineTooLong (line is the long line) or
// errRecordTooLong.
type csvSplitError struct {
	startLine, line int
	err             error
}

func (e *csvSplitError) Error() string {
	return fmt.Sprintf("record on line %d (line %d): %v", e.startLine, e.line, e.err)
}
func (e *csvSplitError) Unwrap() error { return e.err }

var errRecordTooLong = errors.New("record too long")

func newCSVSplitter(r io.Reader, maxLine, maxRecord int) *csvSplitter {
	maxRecord = max(maxRecord, maxLine+2)
	return &csvSplitter{r: r, buf: make([]byte, min(maxRecord, max(1<<20, 2*maxLine+2))),
		line: 1, maxLine: maxLine, maxRecord: maxRecord}
}

// numFields is the number of fields of the last record.
func (s *csvSplitter) numFields() int { return len(s.bounds) / 2 }

// field is field i of the last record, valid until the next call of next.
func (s *csvSplitter) field(i int) []byte {
	return s.buf[s.recStart+s.bounds[2*i] : s.recStart+s.bounds[2*i+1]]
}

// record returns the bytes from the first field's start to the last
// field's end: every field's bytes are in it (with separators and, for
// quoted fields, leftovers of unescaping between them).
func (s *csvSplitter) record() []byte {
	if len(s.bounds) == 0 {
		return nil
	}
	return s.buf[s.recStart+s.bounds[0] : s.recStart+s.bounds[len(s.bounds)-1]]
}

// fill reads more input after buf[:end], keeping buf[keep:end]: it moves
// that to the front of buf (growing buf, up to maxRecord, when it is
// full) and returns how far it moved, which the caller subtracts from its
// indexes into buf. It returns false at the end of the input or on a
// read error.
func (s *csvSplitter) fill(keep int) (shift int, ok bool) {
	if s.eof || s.rerr != nil {
		return 0, false
	}
	if keep > 0 {
		copy(s.buf, s.buf[keep:s.end])
		s.end -= keep
		s.pos -= keep
		s.recStart -= keep
		shift = keep
	}
	if s.end == len(s.buf) {
		n := min(2*len(s.buf), s.maxRecord+1)
		if n <= len(s.buf) {
			return shift, false // the caller reports the length
		}
		nb := make([]byte, n)
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			s.rerr = err
		}
		if n > 0 || err != nil {
			return shift, n > 0
		}
	}
}

// lineEnd returns the index of the '\n' that ends the physical line
// starting at start (or s.end when the input ends without one), reading
// more input as needed; keep is where the kept bytes start (see fill), and
// shift how far buf moved. It refuses a line longer than maxLine.
func (s *csvSplitter) lineEnd(start, keep, line int) (nl, shift int, err error) {
	from := start
	for {
		if k := bytes.IndexByte(s.buf[from:s.end], '\n'); k >= 0 {
			nl = from + k
			if nl-start > s.maxLine {
				return 0, shift, &csvSplitError{startLine: s.recLine, line: line, err: errLineTooLong}
			}
			return nl, shift, nil
		}
		if s.end-start > s.maxLine {
			return 0, shift, &csvSplitError{startLine: s.recLine, line: line, err: errLineTooLong}
		}
		from = s.end
		d, ok := s.fill(keep)
		shift += d
		start, from, keep = start-d, from-d, keep-d
		if !ok {
			if s.rerr != nil {
				return 0, shift, fmt.Errorf("read csv: %w", s.rerr)
			}
			if s.end-s.recStart > s.maxRecord || (s.end == len(s.buf) && !s.eof) {
				return 0, shift, &csvSplitError{startLine: s.recLine, line: line, err: errRecordTooLong}
			}
			return s.end, shift, nil
		}
	}
}

// contentEnd is where the data of the line ending at nl ends: before a
// CR that precedes the '\n' or the end of the input.
func (s *csvSplitter) contentEnd(start, nl int) int {
	if nl > start && s.buf[nl-1] == '\r' {
		return nl - 1
	}
	return nl
}

// next reads the next record. It returns io.EOF after the last one, a
// *csvSplitError for malformed input, or the reader's error.
func (s *csvSplitter) next() error {
	s.bounds = s.bounds[:0]
	// Skip empty lines.
	for {
		if s.pos == s.end {
			if _, ok := s.fill(s.pos); !ok {
				if s.rerr != nil {
					return fmt.Errorf("read csv: %w", s.rerr)
				}
				return io.EOF
			}
			continue
		}
		c := s.buf[s.pos]
		if c == '\n' {
			s.pos++
			s.read++
			s.line++
			continue
		}
		if c == '\r' {
			if s.pos+1 == s.end && !s.eof {
				if _, ok := s.fill(s.pos); ok {
					continue
				}
			}
			if s.pos+1 == s.end { // a CR at the end of the input
				s.pos++
				s.read++
				continue
			}
			if s.buf[s.pos+1] == '\n' {
				s.pos += 2
				s.read += 2
				s.line++
				continue
			}
		}
		break
	}
	s.recStart, s.recLine = s.pos, s.line
	start := s.pos // of the current physical line
	line := s.line
	nl, d, err := s.lineEnd(start, s.recStart, line)
	if err != nil {
		return err
	}
	start -= d
	ce := s.contentEnd(start, nl)
	i := start
	rs := s.recStart
	if bytes.IndexByte(s.buf[start:ce], '"') < 0 {
		// The common line without quotes: split it at the commas.
		for {
			k := bytes.IndexByte(s.buf[i:ce], ',')
			if k < 0 {
				s.bounds = append(s.bounds, i-rs, ce-rs)
				return s.endRecord(nl, line)
			}
			s.bounds = append(s.bounds, i-rs, i+k-rs)
			i += k + 1
		}
	}
	for {
		if i < ce && s.buf[i] == '"' {
			// A quoted field, unescaped in place from its opening quote.
			w := i
			fs := w
			i++
			for {
				k := bytes.IndexByte(s.buf[i:ce], '"')
				if k >= 0 {
					w += copy(s.buf[w:], s.buf[i:i+k])
					i += k + 1
					if i < ce && s.buf[i] == '"' {
						s.buf[w] = '"'
						w++
						i++
						continue
					}
					s.bounds = append(s.bounds, fs-rs, w-rs)
					if i < ce && s.buf[i] == ',' {
						i++
						break
					}
					if i == ce {
						return s.endRecord(nl, line)
					}
					return &csvSplitError{startLine: s.recLine, line: line, err: csv.ErrQuote}
				}
				// The line ends inside the quotes: its data and a '\n'
				// (for a CRLF too) are the field's, and the next line
				// goes on with it.
				w += copy(s.buf[w:], s.buf[i:ce])
				if nl == s.end { // the input ends inside the quotes
					return &csvSplitError{startLine: s.recLine, line: line, err: csv.ErrQuote}
				}
				s.buf[w] = '\n'
				w++
				start, line = nl+1, line+1
				nl, d, err = s.lineEnd(start, s.recStart, line)
				if err != nil {
					return err
				}
				start, w, fs, rs = start-d, w-d, fs-d, s.recStart
				if start == s.end { // nothing after the line break
					return &csvSplitError{startLine: s.recLine, line: line - 1, err: csv.ErrQuote}
				}
				ce = s.contentEnd(start, nl)
				i = start
			}
			continue
		}
		// An unquoted field, up to the next comma or the line's end.
		f := s.buf[i:ce]
		k := bytes.IndexByte(f, ',')
		if k >= 0 {
			f = f[:k]
		}
		if bytes.IndexByte(f, '"') >= 0 {
			return &csvSplitError{startLine: s.recLine, line: line, err: csv.ErrBareQuote}
		}
		s.bounds = append(s.bounds, i-rs, i+len(f)-rs)
		if k < 0 {
			return s.endRecord(nl, line)
		}
		i += k + 1
	}
}

// endRecord consumes the record's last line, which ends at nl.
func (s *csvSplitter) endRecord(nl, line int) error {
	s.line = line
	if nl < s.end {
		nl++ // the '\n'
		s.line++
	}
	s.read += int64(nl - s.pos)
	s.pos = nl
	return nil
}
