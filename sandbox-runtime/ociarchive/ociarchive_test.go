package ociarchive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

type entry struct {
	name string
	data []byte
	typ  byte
}

func digest(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }

// archive builds a small, valid OCI layout; edit may change its entries.
func archive(t testing.TB, edit func([]entry) []entry) []byte {
	layer := []byte("layer bytes")
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer), "size": len(layer)}}})
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{map[string]any{
		"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(man), "size": len(man)}}})
	blob := func(b []byte) entry {
		return entry{name: "blobs/sha256/" + strings.TrimPrefix(digest(b), "sha256:"), data: b}
	}
	es := []entry{
		{name: "oci-layout", data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{name: "index.json", data: idx},
		{name: "blobs/", typ: tar.TypeDir}, blob(layer), blob(config), blob(man),
	}
	if edit != nil {
		es = edit(es)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: typ}
		if typ != tar.TypeReg {
			h.Size = 0
			h.Linkname = "/etc/shadow"
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	tw.Close()
	return b.Bytes()
}

func TestCheck(t *testing.T) {
	s, err := Check(bytes.NewReader(archive(t, nil)), 1<<20)
	if err != nil || s.Manifests != 1 || s.Layers != 1 {
		t.Fatalf("valid archive: got %+v %v", s, err)
	}
	drop := func(prefix string) func([]entry) []entry {
		return func(es []entry) []entry {
			var out []entry
			for _, e := range es {
				if !strings.HasPrefix(e.name, prefix) {
					out = append(out, e)
				}
			}
			return out
		}
	}
	for _, tc := range []struct {
		name string
		edit func([]entry) []entry
		want string
	}{
		{"no layout", drop("oci-layout"), "no oci-layout"},
		{"no index", drop("index.json"), "no index.json"},
		{"missing blobs", drop("blobs/sha256/"), "missing"},
		{"symlink", func(es []entry) []entry { return append(es, entry{name: "evil", typ: tar.TypeSymlink}) }, "not a regular file"},
		{"hardlink", func(es []entry) []entry { return append(es, entry{name: "evil", typ: tar.TypeLink}) }, "not a regular file"},
		{"dotdot", func(es []entry) []entry { return append(es, entry{name: "../../etc/cron.d/x", data: []byte("x")}) }, "unsafe name"},
		{"absolute", func(es []entry) []entry { return append(es, entry{name: "/etc/passwd", data: []byte("x")}) }, "unsafe name"},
		{"blob mismatch", func(es []entry) []entry {
			for i := range es {
				if strings.HasPrefix(es[i].name, "blobs/sha256/") && string(es[i].data) == "layer bytes" {
					es[i].data = []byte("LAYER bytes")
				}
			}
			return es
		}, "does not match its digest"},
		{"bad layout version", func(es []entry) []entry {
			es[0].data = []byte(`{"imageLayoutVersion":"9"}`)
			return es
		}, "version 1.0.0"},
		{"index not json", func(es []entry) []entry {
			es[1].data = []byte("{")
			return es
		}, "not an OCI index"},
		{"badly named blob", func(es []entry) []entry { return append(es, entry{name: "blobs/sha256/xyz", data: []byte("x")}) }, "not named by a sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(bytes.NewReader(archive(t, tc.edit)), 1<<20)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got %v, want an invalid-argument error containing %q", err, tc.want)
			}
		})
	}
	if _, err := Check(bytes.NewReader(archive(t, nil)), 100); err == nil {
		t.Fatal("an archive over the size limit passed")
	}
	if _, err := Check(strings.NewReader("not a tar"), 1<<20); err == nil {
		t.Fatal("garbage passed")
	}
}

func FuzzCheck(f *testing.F) {
	f.Add(archive(f, nil))
	f.Add([]byte{})
	f.Add([]byte(strings.Repeat("\x00", 1024)))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Check(bytes.NewReader(data), 1<<20)
		if err != nil && !errdefs.IsInvalidArgument(err) {
			t.Fatalf("error of another class: %v", err)
		}
		if err == nil && s.Manifests == 0 {
			t.Fatal(fmt.Sprint("accepted an archive without manifests"))
		}
	})
}

// TestBuiltImagesPass checks the archives that `make images` builds (the
// Makefile exports ENCLAVE_IMAGES to the tests).
func TestBuiltImagesPass(t *testing.T) {
	dir := os.Getenv("ENCLAVE_IMAGES")
	if dir == "" {
		t.Skip("ENCLAVE_IMAGES not set: run through make test")
	}
	tars, _ := filepath.Glob(filepath.Join(dir, "*.tar"))
	if len(tars) == 0 {
		t.Fatalf("no archives in %s", dir)
	}
	for _, p := range tars {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Check(f, 1<<30)
		f.Close()
		if err != nil || s.Manifests == 0 || s.Layers == 0 {
			t.Errorf("%s: got %+v %v", filepath.Base(p), s, err)
		}
	}
}
