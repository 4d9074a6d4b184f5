package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/jobs"
	"github.com/enclave-dev/enclave/sandbox-runtime/ociarchive"
)

func sha(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }

// tarOf writes a tar stream of entries; a nil data with size > 0 is a file
// of that many zero bytes.
func tarOf(t *testing.T, entries ...tar.Header) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range entries {
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			io.CopyN(tw, zeroReader{}, h.Size)
		}
	}
	tw.Close()
	return b.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// ociImage builds an OCI archive of one image whose layers are the gzip
// of each tar stream in layers (a layer may repeat).
func ociImage(t *testing.T, layers ...[]byte) []byte {
	blobs := map[string][]byte{}
	var descs []any
	var ids []string
	for _, raw := range layers {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(raw)
		zw.Close()
		blobs[sha(z.Bytes())] = z.Bytes()
		descs = append(descs, map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(z.Bytes()), "size": z.Len()})
		ids = append(ids, sha(raw))
	}
	config, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": ids}})
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": len(config)}, "layers": descs})
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{map[string]any{
		"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(man), "size": len(man)}}})
	blobs[sha(config)], blobs[sha(man)] = config, man
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	put := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	put("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	put("index.json", idx)
	for d, data := range blobs {
		put("blobs/sha256/"+strings.TrimPrefix(d, "sha256:"), data)
	}
	tw.Close()
	return b.Bytes()
}

// goodLayer is a small layer any image may have; n makes it unique.
func goodLayer(t *testing.T, n int) []byte {
	return tarOf(t, tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, tar.Header{Name: "bin/tool", Size: int64(1000 + n)},
		tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "/bin/tool"})
}

// uploadWorld is a job world whose fake runtime names an imported archive
// by its hash, as containerd does.
func uploadWorld(t *testing.T) *jobWorld {
	jw := newJobWorld(t)
	jw.rt.ImportFunc = func(_ context.Context, r io.Reader) (string, error) {
		b, err := io.ReadAll(r)
		return sha(b), err
	}
	return jw
}

func (jw *jobWorld) importImage(token string, archive []byte) (int, api.ErrorBody, jobs.Image) {
	jw.t.Helper()
	code, body := jw.do(token, "POST", "/v1/images?name=model", string(archive))
	var eb api.ErrorBody
	var im jobs.Image
	if code >= 300 {
		json.Unmarshal(body, &eb)
	} else {
		json.Unmarshal(body, &im)
	}
	return code, eb, im
}

func tempFiles(t *testing.T, dir string) int {
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(ents)
}

// TestImageImportChecksLayers: every layer is checked at import, streaming,
// before containerd sees the archive; a refusal is a clear 400 on the
// audit log, and nothing stays behind. A good image records what it
// unpacks to.
func TestImageImportChecksLayers(t *testing.T) {
	jw := uploadWorld(t)
	jw.srv.images.Limits = ociarchive.Limits{MaxLayerBytes: 8 << 20}
	imported := 0
	jw.rt.ImportFunc = func(_ context.Context, r io.Reader) (string, error) {
		imported++
		b, err := io.ReadAll(r)
		return sha(b), err
	}
	many := make([][]byte, 601)
	for i := range many {
		many[i] = goodLayer(t, 0)
	}
	// The bomb unpacks to eight times the limit; twice under -short, where
	// writing and compressing 64 MiB of zeros is most of the test's CPU.
	bomb := int64(64 << 20)
	if testing.Short() {
		bomb = 16 << 20
	}
	for _, tc := range []struct {
		name, archive, want string
	}{
		{"a gzip bomb", string(ociImage(t, tarOf(t, tar.Header{Name: "zeros", Size: bomb}))), "unpacks to more than the limit of 8388608 bytes"},
		{"a hard link out of the image", string(ociImage(t, tarOf(t, tar.Header{Name: "shadow", Typeflag: tar.TypeLink, Linkname: "../../../etc/shadow"}))),
			`hard link "shadow" points outside the image`},
		{"a hard link to a host path", string(ociImage(t, tarOf(t, tar.Header{Name: "shadow", Typeflag: tar.TypeLink, Linkname: "/etc/shadow"}))),
			`does not name a regular file earlier in its layer`},
		{"601 layers", string(ociImage(t, many...)), "image has 601 layers, more than the limit of 64"},
		{"an owner outside the mapped range", string(ociImage(t, tarOf(t, tar.Header{Name: "x", Size: 1, Uid: 70000}))), "outside 0-65535"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, eb, _ := jw.importImage(jw.operator.Token, []byte(tc.archive))
			if code != 400 || eb.Error.Class != "invalid-argument" || !strings.Contains(eb.Error.Message, tc.want) {
				t.Fatalf("got %d %+v, want 400 invalid-argument naming %q", code, eb.Error, tc.want)
			}
		})
	}
	if imported != 0 {
		t.Errorf("containerd was given %d refused archives", imported)
	}
	if n := tempFiles(t, jw.srv.TempDir); n != 0 {
		t.Errorf("%d upload files left behind", n)
	}
	for _, e := range jw.entries("image.import") {
		if e.Event.Outcome != "failed" || e.Event.Reason != "invalid-argument" {
			t.Errorf("refused import on the record: got %s %s, want failed invalid-argument", e.Event.Outcome, e.Event.Reason)
		}
	}
	code, eb, im := jw.importImage(jw.operator.Token, ociImage(t, goodLayer(t, 0), goodLayer(t, 1)))
	if code != 201 || im.Layers != 2 || im.Unpacked != 2*(3*512+9)+1000+1001 {
		t.Fatalf("a good image: got %d %+v %+v, want 2 layers of %d bytes", code, eb, im, 2*(3*512+9)+1000+1001)
	}
}

// TestImageQuotaPerOrganisation: what an organisation keeps of images,
// pending and approved, plus what it is uploading, stays under its quota;
// an upload that would pass it is refused naming the quota, one of another
// organisation is not.
func TestImageQuotaPerOrganisation(t *testing.T) {
	jw := uploadWorld(t)
	a := ociImage(t, goodLayer(t, 1))
	jw.srv.Uploads.ImageQuota = int64(len(a))*2 + 100
	for i := 1; i <= 2; i++ {
		if code, eb, _ := jw.importImage(jw.operator.Token, ociImage(t, goodLayer(t, i))); code != 201 {
			t.Fatalf("import %d within the quota: got %d %+v", i, code, eb)
		}
	}
	code, eb, _ := jw.importImage(jw.operatorSameOrg.Token, ociImage(t, goodLayer(t, 3)))
	if code != 429 || eb.Error.Class != "resource-exhausted" || !strings.Contains(eb.Error.Message, `organisation "acme" keeps`) ||
		!strings.Contains(eb.Error.Message, "quota") {
		t.Fatalf("import over the quota: got %d %+v, want 429 naming the organisation's quota", code, eb)
	}
	// A rejected image no longer counts.
	var ims []jobs.Image
	jw.mustDo(jw.officer.Token, "GET", "/v1/images", nil, &ims)
	for _, im := range ims {
		if im.Status == jobs.ImagePending {
			jw.mustDo(jw.officer.Token, "POST", "/v1/images/"+im.Digest+"/reject", api.CommentRequest{Comment: "not needed"}, nil)
			break
		}
	}
	if code, eb, _ := jw.importImage(jw.operator.Token, ociImage(t, goodLayer(t, 3))); code != 201 {
		t.Fatalf("import after a rejection freed the quota: got %d %+v", code, eb)
	}
}

// TestSnapshotQuota: an approval that would keep more unpacked images than
// the quota is refused before anything is unpacked.
func TestSnapshotQuota(t *testing.T) {
	jw := uploadWorld(t)
	prepared := 0
	jw.rt.PrepareFunc = func(context.Context, string) error { prepared++; return nil }
	_, _, small := jw.importImage(jw.operator.Token, ociImage(t, goodLayer(t, 1)))
	_, _, big := jw.importImage(jw.operator.Token, ociImage(t, tarOf(t, tar.Header{Name: "weights", Size: 1 << 20})))
	jw.srv.images.SnapshotQuota = 2*(small.Unpacked) + 1<<20
	jw.mustDo(jw.officer.Token, "POST", "/v1/images/"+small.Digest+"/approve", api.CommentRequest{}, nil)
	code, body := jw.do(jw.officer.Token, "POST", "/v1/images/"+big.Digest+"/approve", api.CommentRequest{})
	var eb api.ErrorBody
	json.Unmarshal(body, &eb)
	if code != 429 || !strings.Contains(eb.Error.Message, "over the quota") {
		t.Fatalf("approval over the snapshot quota: got %d %s", code, body)
	}
	if prepared != 1 {
		t.Errorf("images unpacked: got %d, want 1", prepared)
	}
	var im jobs.Image
	for _, e := range jw.entries("image.approve") {
		if e.Event.Outcome == "failed" {
			im.Digest = e.Event.Objects[0]
		}
	}
	if im.Digest != "image:"+big.Digest {
		t.Errorf("the refused approval is not on the record")
	}
}

// slowBody sends one byte every interval until closed.
type slowBody struct {
	interval time.Duration
	stop     chan struct{}
}

func (s *slowBody) Read(p []byte) (int, error) {
	select {
	case <-s.stop:
		return 0, io.EOF
	case <-time.After(s.interval):
	}
	p[0] = 'x'
	return 1, nil
}

// TestUploadsAreLimited: a client sending a byte at a time is cut off
// once a window passes without MinBytes (408, naming the rule), its file
// removed and its place freed; a person has at most PerPerson uploads in
// flight (429 for one more).
func TestUploadsAreLimited(t *testing.T) {
	jw := uploadWorld(t)
	jw.srv.Uploads.Window, jw.srv.Uploads.MinBytes, jw.srv.Uploads.PerPerson = time.Second, 4096, 1
	send := func(body io.Reader) (int, api.ErrorBody) {
		req, _ := http.NewRequest("POST", jw.http.URL+"/v1/images", body)
		req.Header.Set("Authorization", "Bearer "+jw.operator.Token)
		resp, err := jw.http.Client().Do(req)
		if err != nil {
			return 0, api.ErrorBody{}
		}
		defer resp.Body.Close()
		var eb api.ErrorBody
		json.NewDecoder(resp.Body).Decode(&eb)
		return resp.StatusCode, eb
	}
	slow := &slowBody{interval: 100 * time.Millisecond, stop: make(chan struct{})}
	defer close(slow.stop)
	type result struct {
		code int
		eb   api.ErrorBody
		took time.Duration
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		code, eb := send(slow)
		done <- result{code, eb, time.Since(start)}
	}()
	// While the slow upload holds the operator's one place, another is
	// refused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		jw.srv.uploads.mu.Lock()
		n := jw.srv.uploads.total
		jw.srv.uploads.mu.Unlock()
		if n == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, eb := send(bytes.NewReader(ociImage(t, goodLayer(t, 1)))); code != 429 || !strings.Contains(eb.Error.Message, "uploads in flight") {
		t.Fatalf("a second upload of the person: got %d %+v, want 429", code, eb)
	}
	r := <-done
	if r.code != 408 || r.eb.Error.Class != "deadline-exceeded" || !strings.Contains(r.eb.Error.Message, "brought less than 4096 bytes in 1s") {
		t.Fatalf("a byte every 100ms: got %d %+v, want 408 naming the rule", r.code, r.eb)
	}
	if r.took > 10*time.Second {
		t.Errorf("the slow upload held on for %s", r.took)
	}
	if n := tempFiles(t, jw.srv.TempDir); n != 0 {
		t.Errorf("%d upload files left behind", n)
	}
	if code, eb := send(bytes.NewReader(ociImage(t, goodLayer(t, 1)))); code != 201 {
		t.Fatalf("an upload after the slow one was cut off: got %d %+v", code, eb)
	}
}

// TestImageQuotaCountsWhatWasRecordedMeanwhile: an upload that began before
// another of its organisation was recorded is judged, once its body is in,
// against what the organisation keeps then.
func TestImageQuotaCountsWhatWasRecordedMeanwhile(t *testing.T) {
	jw := uploadWorld(t)
	a, b := ociImage(t, goodLayer(t, 1)), ociImage(t, goodLayer(t, 2))
	jw.srv.Uploads.ImageQuota = int64(len(a) + len(b) - 1)
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", jw.http.URL+"/v1/images", pr)
		req.Header.Set("Authorization", "Bearer "+jw.operator.Token)
		resp, err := jw.http.Client().Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	pw.Write(b[:512])
	if code, eb, _ := jw.importImage(jw.operatorSameOrg.Token, a); code != 201 {
		t.Fatalf("the first upload: got %d %+v", code, eb)
	}
	pw.Write(b[512:])
	pw.Close()
	if code := <-done; code != 429 {
		t.Fatalf("the upload that began first, judged at its end: got %d, want 429", code)
	}
}
