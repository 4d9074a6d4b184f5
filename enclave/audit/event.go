package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/store/storetime"
)

// Outcomes of an event.
const (
	OutcomeOK     = "ok"
	OutcomeDenied = "denied"
	OutcomeFailed = "failed"
	OutcomeIntent = "intent"
)

// Retention classes: three years by default, five years for events
// that touch authorization-required or withheld data.
const (
	Retention3y = "3y"
	Retention5y = "5y"
)

// MaxEventSize is the largest canonical encoding of one event, in bytes.
const MaxEventSize = 64 << 10

// timeLayout is the codec of stored times: RFC 3339 in UTC with exactly
// nine fractional digits, so that one instant has one encoding. Entries are
// hashed in it: it never changes.
const timeLayout = storetime.Layout

// Event is one audit record. It holds identifiers, hashes and counts, never
// secrets or data values; the caller is responsible for that.
type Event struct {
	Time      time.Time         // when it happened; Append fills in the current time when zero
	Actor     string            // person id, or "system"
	Org       string            // organisation of the actor, may be empty for "system"
	Action    string            // "person.add", "dataset.import", "job.run", "authz.deny", ...
	Objects   []string          // "person:p_…", "dataset:credit_penalties@2", ...
	Outcome   string            // OutcomeOK, OutcomeDenied, OutcomeFailed or OutcomeIntent
	Reason    string            // why, for denials and failures
	RequestID string            // the API request that caused it
	Retention string            // Retention3y (the default when empty) or Retention5y
	Details   map[string]string // ids, hashes, counts; never data values
}

// wireEvent is the JSON form of Event. Its fields are declared in the sorted
// order of their keys, which makes encoding/json's output canonical.
type wireEvent struct {
	Action    string            `json:"action"`
	Actor     string            `json:"actor"`
	Details   map[string]string `json:"details,omitempty"`
	Objects   []string          `json:"objects,omitempty"`
	Org       string            `json:"org,omitempty"`
	Outcome   string            `json:"outcome"`
	Reason    string            `json:"reason,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Retention string            `json:"retention"`
	Time      string            `json:"time"`
}

// MarshalEvent validates ev and returns its canonical JSON: keys sorted, no
// insignificant space, time in RFC 3339 UTC with nine fractional digits,
// empty optional fields omitted and an empty retention class set to
// Retention3y. Invalid events return an errdefs.ErrInvalidArgument class
// error.
func MarshalEvent(ev Event) ([]byte, error) {
	if ev.Retention == "" {
		ev.Retention = Retention3y
	}
	if err := validate(ev); err != nil {
		return nil, err
	}
	w := wireEvent{
		Action: ev.Action, Actor: ev.Actor, Org: ev.Org, Outcome: ev.Outcome,
		Reason: ev.Reason, RequestID: ev.RequestID, Retention: ev.Retention,
		Time: ev.Time.UTC().Format(timeLayout),
	}
	if len(ev.Objects) > 0 {
		w.Objects = ev.Objects
	}
	if len(ev.Details) > 0 {
		w.Details = ev.Details
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("encode audit event: %w", errdefs.ErrInvalidArgument)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > MaxEventSize {
		return nil, fmt.Errorf("audit event of %d bytes exceeds %d: %w", len(b), MaxEventSize, errdefs.ErrInvalidArgument)
	}
	return b, nil
}

// UnmarshalEvent parses the canonical JSON of an event. Input that is not
// exactly what MarshalEvent produces (unknown fields, other key order, extra
// space, a non-canonical time) returns an errdefs.ErrInvalidArgument class
// error.
func UnmarshalEvent(b []byte) (Event, error) {
	if len(b) > MaxEventSize {
		return Event{}, fmt.Errorf("audit event of %d bytes exceeds %d: %w", len(b), MaxEventSize, errdefs.ErrInvalidArgument)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wireEvent
	if err := dec.Decode(&w); err != nil {
		return Event{}, fmt.Errorf("decode audit event: %w", errdefs.ErrInvalidArgument)
	}
	t, err := time.Parse(timeLayout, w.Time)
	if err != nil {
		return Event{}, fmt.Errorf("audit event field %q: %w", "time", errdefs.ErrInvalidArgument)
	}
	ev := Event{
		Time: t, Actor: w.Actor, Org: w.Org, Action: w.Action, Objects: w.Objects,
		Outcome: w.Outcome, Reason: w.Reason, RequestID: w.RequestID,
		Retention: w.Retention, Details: w.Details,
	}
	again, err := MarshalEvent(ev)
	if err != nil {
		return Event{}, err
	}
	if !bytes.Equal(again, b) {
		return Event{}, fmt.Errorf("audit event is not in canonical form: %w", errdefs.ErrInvalidArgument)
	}
	return ev, nil
}

func validate(ev Event) error {
	bad := func(field string) error {
		return fmt.Errorf("audit event field %q: %w", field, errdefs.ErrInvalidArgument)
	}
	if ev.Time.IsZero() {
		return bad("time")
	}
	if y := ev.Time.UTC().Year(); y < 1 || y > 9999 {
		return bad("time")
	}
	if ev.Actor == "" || !utf8.ValidString(ev.Actor) {
		return bad("actor")
	}
	if ev.Action == "" || !utf8.ValidString(ev.Action) {
		return bad("action")
	}
	switch ev.Outcome {
	case OutcomeOK, OutcomeDenied, OutcomeFailed, OutcomeIntent:
	default:
		return bad("outcome")
	}
	switch ev.Retention {
	case Retention3y, Retention5y:
	default:
		return bad("retention")
	}
	for _, f := range [...]struct{ name, s string }{{"org", ev.Org}, {"reason", ev.Reason}, {"request_id", ev.RequestID}} {
		if !utf8.ValidString(f.s) {
			return bad(f.name)
		}
	}
	for _, o := range ev.Objects {
		if o == "" || !utf8.ValidString(o) {
			return bad("objects")
		}
	}
	for k, v := range ev.Details {
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return bad("details")
		}
	}
	return nil
}
