package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/containerd/errdefs"
)

// PurgeReport says what a purge removed.
type PurgeReport struct {
	Segments int    `json:"segments"`
	Entries  uint64 `json:"entries"`
	// First and Last bound the purged entries (when Entries > 0).
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

// retained reports whether ev must still be kept at now: 3 years, or 5 for
// events touching authorization-required or withheld data.
func retained(ev Event, now time.Time) bool {
	years := 3
	if ev.Retention == Retention5y {
		years = 5
	}
	return now.Before(ev.Time.AddDate(years, 0, 0))
}

// Purgeable returns the sealed segments whose every event is past its
// retention at now, without removing anything.
func (l *Log) Purgeable(ctx context.Context, now time.Time) (PurgeReport, []uint64, error) {
	l.mu.RLock()
	segs := slices.Clone(l.segs)
	l.mu.RUnlock()
	var rep PurgeReport
	var firsts []uint64
	for i, s := range segs {
		if i == len(segs)-1 {
			break // the active segment is never purged
		}
		if err := ctx.Err(); err != nil {
			return rep, nil, err
		}
		data, err := os.ReadFile(filepath.Join(l.dir, segName(s.first)))
		if errors.Is(err, os.ErrNotExist) {
			continue // purged before
		}
		if err != nil {
			return rep, nil, fmt.Errorf("read audit segment %q: %w", segName(s.first), err)
		}
		r := scanSegment(data, s.first)
		if r.damage != damageNone {
			return rep, nil, fmt.Errorf("audit segment %q is damaged; nothing is purged: %w", segName(s.first), errdefs.ErrDataLoss)
		}
		all := len(r.entries) > 0
		for _, body := range r.entries {
			ev, err := UnmarshalEvent(body)
			if err != nil || retained(ev, now) {
				all = false
				break
			}
		}
		if !all {
			break // purge only a prefix of the log, oldest first
		}
		if rep.Entries == 0 {
			rep.First = s.first
		}
		rep.Segments++
		rep.Entries += uint64(len(r.entries))
		rep.Last = s.first + uint64(len(r.entries)) - 1
		firsts = append(firsts, s.first)
	}
	return rep, firsts, nil
}

// Purge removes the event files of the sealed segments that Purgeable
// names. Their leaf hashes stay, so Verify still checks the whole tree
// and every later entry. The caller records the purge in the log before
// calling Purge.
func (l *Log) Purge(ctx context.Context, firsts []uint64) error {
	for _, f := range firsts {
		if err := os.Remove(filepath.Join(l.dir, segName(f))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("purge audit segment %q: %w", segName(f), err)
		}
	}
	return syncDir(l.dir)
}
