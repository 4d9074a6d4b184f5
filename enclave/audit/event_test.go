package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 120, time.FixedZone("CST", 8*3600))

func TestMarshalEventCanonical(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{
			name: "minimal gets default retention and UTC nanos",
			ev:   Event{Time: t0, Actor: "system", Action: "audit.start", Outcome: OutcomeOK},
			want: `{"action":"audit.start","actor":"system","outcome":"ok","retention":"3y","time":"2026-11-23T02:00:00.000000120Z"}`,
		},
		{
			name: "all fields, details sorted",
			ev: Event{
				Time: t0, Actor: "p_01", Org: "acme", Action: "dataset.import",
				Objects: []string{"dataset:credit_penalties@2"}, Outcome: OutcomeDenied,
				Reason: "no <grant> & no licence", RequestID: "req-7", Retention: Retention5y,
				Details: map[string]string{"z": "1", "a": "sha256:ab"},
			},
			want: `{"action":"dataset.import","actor":"p_01","details":{"a":"sha256:ab","z":"1"},"objects":["dataset:credit_penalties@2"],"org":"acme","outcome":"denied","reason":"no <grant> & no licence","request_id":"req-7","retention":"5y","time":"2026-11-23T02:00:00.000000120Z"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MarshalEvent(tc.ev)
			if err != nil {
				t.Fatalf("MarshalEvent: got error %v, want nil", err)
			}
			if string(got) != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			back, err := UnmarshalEvent(got)
			if err != nil {
				t.Fatalf("UnmarshalEvent: got error %v, want nil", err)
			}
			again, _ := MarshalEvent(back)
			if string(again) != tc.want {
				t.Fatalf("round trip: got %s, want %s", again, tc.want)
			}
			if !back.Time.Equal(tc.ev.Time) {
				t.Fatalf("time: got %v, want %v", back.Time, tc.ev.Time)
			}
		})
	}
}

func TestMarshalEventInvalid(t *testing.T) {
	ok := Event{Time: t0, Actor: "p_01", Action: "job.run", Outcome: OutcomeOK}
	tests := []struct {
		name  string
		edit  func(*Event)
		field string
	}{
		{"zero time", func(e *Event) { e.Time = time.Time{} }, "time"},
		{"no actor", func(e *Event) { e.Actor = "" }, "actor"},
		{"no action", func(e *Event) { e.Action = "" }, "action"},
		{"unknown outcome", func(e *Event) { e.Outcome = "maybe" }, "outcome"},
		{"unknown retention", func(e *Event) { e.Retention = "1y" }, "retention"},
		{"bad utf-8 reason", func(e *Event) { e.Reason = "\xff" }, "reason"},
		{"empty object", func(e *Event) { e.Objects = []string{""} }, "objects"},
		{"empty details key", func(e *Event) { e.Details = map[string]string{"": "1"} }, "details"},
		{"too large", func(e *Event) { e.Reason = strings.Repeat("x", MaxEventSize) }, "bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := ok
			tc.edit(&ev)
			_, err := MarshalEvent(ev)
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got error %v, want ErrInvalidArgument", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("got error %q, want it to name %q", err, tc.field)
			}
		})
	}
}

func TestUnmarshalEventRejectsNonCanonical(t *testing.T) {
	tests := []struct{ name, in string }{
		{"space", `{"action":"a", "actor":"b","outcome":"ok","retention":"3y","time":"2026-11-23T02:00:00.000000120Z"}`},
		{"key order", `{"actor":"b","action":"a","outcome":"ok","retention":"3y","time":"2026-11-23T02:00:00.000000120Z"}`},
		{"short time", `{"action":"a","actor":"b","outcome":"ok","retention":"3y","time":"2026-11-23T02:00:00Z"}`},
		{"offset time", `{"action":"a","actor":"b","outcome":"ok","retention":"3y","time":"2026-11-23T10:00:00.000000120+08:00"}`},
		{"unknown field", `{"action":"a","actor":"b","outcome":"ok","retention":"3y","secret":"x","time":"2026-11-23T02:00:00.000000120Z"}`},
		{"missing retention", `{"action":"a","actor":"b","outcome":"ok","time":"2026-11-23T02:00:00.000000120Z"}`},
		{"empty details", `{"action":"a","actor":"b","details":{},"outcome":"ok","retention":"3y","time":"2026-11-23T02:00:00.000000120Z"}`},
		{"trailing data", `{"action":"a","actor":"b","outcome":"ok","retention":"3y","time":"2026-11-23T02:00:00.000000120Z"}{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := UnmarshalEvent([]byte(tc.in)); !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got error %v, want ErrInvalidArgument", err)
			}
		})
	}
}

// FuzzUnmarshalEvent checks that whatever parses is canonical: encoding the
// result gives back exactly the input.
func FuzzUnmarshalEvent(f *testing.F) {
	b, _ := MarshalEvent(Event{Time: t0, Actor: "p_01", Org: "acme", Action: "job.run", Outcome: OutcomeOK,
		Objects: []string{"job:j_1"}, Details: map[string]string{"exit": "0"}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		ev, err := UnmarshalEvent(in)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got error class %v, want ErrInvalidArgument", err)
			}
			return
		}
		out, err := MarshalEvent(ev)
		if err != nil || string(out) != string(in) {
			t.Fatalf("got %q (%v), want %q", out, err, in)
		}
	})
}
