package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
)

// bodies holds the buffers decodeJSON reads request bodies into.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxBody is the largest JSON request body the API accepts.
const maxBody = 1 << 20

// decodeJSON decodes a request body strictly into v: unknown fields,
// trailing data, wrong types and syntax errors are refused with an error
// that names the field or the offset.
func decodeJSON(r io.Reader, v any) error {
	// The body is read into a buffer of a pool: json copies what it
	// decodes (strings, RawMessage), so nothing of v points into it.
	b := bodies.Get().(*bytes.Buffer)
	defer func() {
		if b.Cap() <= 64<<10 { // a large body's buffer is let go
			b.Reset()
			bodies.Put(b)
		}
	}()
	if _, err := b.ReadFrom(io.LimitReader(r, maxBody+1)); err != nil {
		return fmt.Errorf("read request body: %w", errdefs.ErrInvalidArgument)
	}
	data := b.Bytes()
	if len(data) > maxBody {
		return fmt.Errorf("request body is larger than %d bytes: %w", maxBody, errdefs.ErrInvalidArgument)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("request body is empty, a JSON object is required: %w", errdefs.ErrInvalidArgument)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if dec.More() {
		return fmt.Errorf("request body has data after the JSON object: %w", errdefs.ErrInvalidArgument)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("request body has data after the JSON object: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

func describeJSONError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("request body is not valid JSON at offset %d: %w", se.Offset, errdefs.ErrInvalidArgument)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		return fmt.Errorf("field %q must be %s, not %s: %w", field, te.Type.String(), te.Value, errdefs.ErrInvalidArgument)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("request body ends in the middle of a JSON value: %w", errdefs.ErrInvalidArgument)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return fmt.Errorf("unknown field %s: %w", name, errdefs.ErrInvalidArgument)
	}
	return fmt.Errorf("request body cannot be decoded: %w", errdefs.ErrInvalidArgument)
}
