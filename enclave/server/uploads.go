package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/sandbox-runtime/ociarchive"
)

// UploadLimits bound what people upload: image archives and dataset files.
// A zero field takes its value from DefaultUploadLimits.
type UploadLimits struct {
	// PerPerson is how many uploads one person may have in flight.
	PerPerson int
	// Total is how many uploads the daemon takes in at once.
	Total int
	// MinBytes and Window: an upload's body must bring at least MinBytes
	// in every Window, or it is cut off (a client that sends a byte a
	// second holds no connection and no file for long).
	MinBytes int64
	Window   time.Duration
	// ImageQuota is how many bytes of image archives one organisation may
	// keep, pending and approved (rejected images do not count).
	ImageQuota int64
	// SnapshotQuota bounds the disk the approved images take unpacked:
	// twice what each unpacks to (its layers, and their copy remapped to
	// the jobs' ids), all approved images together.
	SnapshotQuota int64
	// Image bounds the layers of one image (ociarchive.CheckImage).
	Image ociarchive.Limits
}

// DefaultUploadLimits: two uploads per person, sixteen at once, at least
// 64 KiB in every 15 seconds, 16 GiB of image archives per organisation,
// 64 GiB of unpacked images, and ociarchive.DefaultLimits per image.
func DefaultUploadLimits() UploadLimits {
	return UploadLimits{PerPerson: 2, Total: 16, MinBytes: 64 << 10, Window: 15 * time.Second, ImageQuota: 16 << 30,
		SnapshotQuota: 64 << 30, Image: ociarchive.DefaultLimits()}
}

func (l UploadLimits) effective() UploadLimits {
	d := DefaultUploadLimits()
	if l.PerPerson > 0 {
		d.PerPerson = l.PerPerson
	}
	if l.Total > 0 {
		d.Total = l.Total
	}
	if l.MinBytes > 0 {
		d.MinBytes = l.MinBytes
	}
	if l.Window > 0 {
		d.Window = l.Window
	}
	if l.ImageQuota > 0 {
		d.ImageQuota = l.ImageQuota
	}
	if l.SnapshotQuota > 0 {
		d.SnapshotQuota = l.SnapshotQuota
	}
	d.Image = l.Image
	return d
}

// uploads counts the uploads in flight.
type uploads struct {
	mu        sync.Mutex
	perPerson map[string]int
	total     int
	// imageBytes is what the image uploads in flight of each organisation
	// have received so far.
	imageBytes map[string]int64
}

// errSlowUpload marks an upload cut off for sending too little; the
// server answers it 408.
var errSlowUpload = errors.New("upload too slow")

// upload is one upload in flight.
type upload struct {
	s      *Server
	person string
	body   *pacedBody
	once   sync.Once
}

// beginUpload admits one upload of the caller, or refuses it when the
// caller or the daemon has as many in flight as the limits allow. The
// request's body is paced from then on: it fails with errSlowUpload (and
// context.DeadlineExceeded) when it brings less than MinBytes in a Window.
// The caller calls received once the body is read and end when the
// request is done.
func (s *Server) beginUpload(c *call) (*upload, error) {
	lim := s.Uploads
	u := &s.uploads
	person := c.subject.Person.ID
	u.mu.Lock()
	switch {
	case u.perPerson[person] >= lim.PerPerson:
		u.mu.Unlock()
		return nil, fmt.Errorf("person %q has %d uploads in flight, the most one person may have; try again when one has ended: %w",
			person, lim.PerPerson, errdefs.ErrResourceExhausted)
	case u.total >= lim.Total:
		u.mu.Unlock()
		return nil, fmt.Errorf("the daemon takes at most %d uploads at once; try again shortly: %w", lim.Total, errdefs.ErrResourceExhausted)
	}
	u.perPerson[person]++
	u.total++
	u.mu.Unlock()
	p := &pacedBody{r: c.r.Body, rc: http.NewResponseController(c.w), min: lim.MinBytes, window: lim.Window}
	p.arm()
	c.r.Body = p
	return &upload{s: s, person: person, body: p}, nil
}

// received ends the pacing: the rest of the request (the checks, the
// answer) is not the client's to hurry.
func (up *upload) received() { up.body.rc.SetReadDeadline(time.Time{}) }

// end gives the upload's place back.
func (up *upload) end() {
	up.once.Do(func() {
		up.received()
		u := &up.s.uploads
		u.mu.Lock()
		u.perPerson[up.person]--
		if u.perPerson[up.person] <= 0 {
			delete(u.perPerson, up.person)
		}
		u.total--
		u.mu.Unlock()
	})
}

// pacedBody is an upload's body that must bring min bytes in every window:
// each time it has, the connection's read deadline moves a window on.
type pacedBody struct {
	r      io.ReadCloser
	rc     *http.ResponseController
	min    int64
	window time.Duration
	got    int64
}

func (p *pacedBody) arm() {
	p.got = 0
	// A connection that cannot take deadlines (none of ours) is not paced.
	_ = p.rc.SetReadDeadline(time.Now().Add(p.window))
}

func (p *pacedBody) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.got += int64(n)
	if p.got >= p.min {
		p.arm()
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, fmt.Errorf("the upload brought less than %d bytes in %s and was cut off: %w", p.min, p.window,
			errors.Join(errSlowUpload, context.DeadlineExceeded))
	}
	return n, err
}

func (p *pacedBody) Close() error { return p.r.Close() }

// imageQuota is an image upload's body counted against its organisation's
// quota: what the organisation keeps, plus what its uploads in flight have
// received, may not pass ImageQuota.
type imageQuota struct {
	s      *Server
	r      io.Reader
	org    string
	stored int64
	got    int64
}

// quotaReader returns the body of an image upload of org, counted against
// its quota; done gives the bytes back when the upload ends.
func (s *Server) quotaReader(ctx context.Context, c *call, r io.Reader) (*imageQuota, func(), error) {
	org := c.subject.Org.Name
	stored, err := jobs.StoredImageBytes(ctx, s.DB.SQL(), org)
	if err != nil {
		return nil, nil, err
	}
	q := &imageQuota{s: s, r: r, org: org, stored: stored}
	if err := q.check(max(c.r.ContentLength, 0)); err != nil {
		return nil, nil, err
	}
	return q, func() {
		s.uploads.mu.Lock()
		s.uploads.imageBytes[org] -= q.got
		if s.uploads.imageBytes[org] <= 0 {
			delete(s.uploads.imageBytes, org)
		}
		s.uploads.mu.Unlock()
	}, nil
}

// recheck is check once the body is in, against what the organisation
// keeps now: an upload of the same organisation may have been recorded
// meanwhile.
func (q *imageQuota) recheck(ctx context.Context) error {
	stored, err := jobs.StoredImageBytes(ctx, q.s.DB.SQL(), q.org)
	if err != nil {
		return err
	}
	q.stored = stored
	return q.check(0)
}

// check says whether n more bytes fit the organisation's quota.
func (q *imageQuota) check(n int64) error {
	q.s.uploads.mu.Lock()
	inflight := q.s.uploads.imageBytes[q.org]
	q.s.uploads.mu.Unlock()
	if q.stored+inflight+n > q.s.Uploads.ImageQuota {
		return fmt.Errorf("organisation %q keeps %d bytes of images and uploads %d more; this upload would pass its quota of %d bytes: %w",
			q.org, q.stored, inflight, q.s.Uploads.ImageQuota, errdefs.ErrResourceExhausted)
	}
	return nil
}

func (q *imageQuota) Read(b []byte) (int, error) {
	n, err := q.r.Read(b)
	if n > 0 {
		q.s.uploads.mu.Lock()
		q.s.uploads.imageBytes[q.org] += int64(n)
		q.s.uploads.mu.Unlock()
		q.got += int64(n)
		if qerr := q.check(0); qerr != nil {
			return n, qerr
		}
	}
	return n, err
}
