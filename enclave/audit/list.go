package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/containerd/errdefs"
)

// Filter selects entries for List. Empty fields match everything.
type Filter struct {
	Actor  string    // exact person id
	Org    string    // exact organisation
	Action string    // exact action, or a prefix ending in "." ("dataset.")
	Object string    // one of the entry's objects, exactly
	Since  time.Time // entries at or after
	Until  time.Time // entries before
	From   uint64    // oldest first: first index to consider; newest first: last index + 1 to consider (0 means the end)
	Limit  int       // at most this many entries; 0 means no limit
	Newest bool      // newest first, so that Limit keeps the latest matches
}

// Entry is one event with its index in the log.
type Entry struct {
	Index uint64
	Event Event
}

func (f Filter) match(ev Event) bool {
	if f.Actor != "" && ev.Actor != f.Actor {
		return false
	}
	if f.Org != "" && ev.Org != f.Org {
		return false
	}
	if f.Action != "" && ev.Action != f.Action &&
		!(f.Action[len(f.Action)-1] == '.' && len(ev.Action) > len(f.Action) && ev.Action[:len(f.Action)] == f.Action) {
		return false
	}
	if f.Object != "" && !slices.Contains(ev.Objects, f.Object) {
		return false
	}
	if !f.Since.IsZero() && ev.Time.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !ev.Time.Before(f.Until) {
		return false
	}
	return true
}

// List returns the acknowledged entries that match f, oldest first (or
// newest first with f.Newest). Purged segments (only leaf hashes left) are
// skipped. It reads the segment files; an entry that does not parse returns
// an errdefs.ErrDataLoss class error (run Verify to name it).
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
	l.mu.RLock()
	segs := slices.Clone(l.segs)
	size := l.size
	l.mu.RUnlock()
	in := verifyInput{dir: l.dir, limit: map[uint64]int64{}}
	if n := len(segs); n > 0 {
		in.limit[segs[n-1].first] = segs[n-1].size
	}
	lo, hi := f.From, size // entries [lo, hi) are considered
	if f.Newest {
		lo, hi = 0, size
		if f.From > 0 && f.From < size {
			hi = f.From
		}
	}
	var out []Entry
	for k := range segs {
		i := k
		if f.Newest {
			i = len(segs) - 1 - k
		}
		s := segs[i]
		end := size
		if i+1 < len(segs) {
			end = segs[i+1].first
		}
		if end <= lo || s.first >= hi {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("audit list: %w", err)
		}
		data, err := in.read(s.first)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read audit segment %q: %w", segName(s.first), err)
		}
		r := scanSegment(data, s.first)
		for m := range r.entries {
			j := m
			if f.Newest {
				j = len(r.entries) - 1 - m
			}
			idx := s.first + uint64(j)
			if idx < lo || idx >= hi {
				continue
			}
			ev, err := UnmarshalEvent(r.entries[j])
			if err != nil {
				return nil, fmt.Errorf("audit entry %d does not parse: %w", idx, errdefs.ErrDataLoss)
			}
			if f.match(ev) {
				out = append(out, Entry{Index: idx, Event: ev})
				if f.Limit > 0 && len(out) >= f.Limit {
					return out, nil
				}
			}
		}
	}
	return out, nil
}
