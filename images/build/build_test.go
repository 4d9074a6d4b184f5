package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestBuildDeterministicLayout(t *testing.T) {
	img := Image{Name: "t", Files: []File{
		{Path: "bin/tool", Mode: 0o755, Data: []byte("#!binary")},
		{Path: "bin/alias", Link: "tool"},
	}, Entrypoint: []string{"/bin/tool"}}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar")
	if err := writeArchive(a, img); err != nil {
		t.Fatal(err)
	}
	if err := writeArchive(b, img); err != nil {
		t.Fatal(err)
	}
	ba, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ba, bb) {
		t.Fatalf("two builds: got different bytes, want identical archives")
	}
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(ba))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		files[h.Name] = data
	}
	var idx struct {
		Manifests []descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(files["index.json"], &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index.json: got %s (%v), want one manifest", files["index.json"], err)
	}
	man := files["blobs/sha256/"+idx.Manifests[0].Digest[7:]]
	if digestOf(man) != idx.Manifests[0].Digest {
		t.Fatalf("manifest blob: got digest %s, want %s", digestOf(man), idx.Manifests[0].Digest)
	}
	var m struct {
		Layers []descriptor `json:"layers"`
	}
	json.Unmarshal(man, &m)
	layer := files["blobs/sha256/"+m.Layers[0].Digest[7:]]
	if digestOf(layer) != m.Layers[0].Digest {
		t.Fatalf("layer blob: got digest %s, want %s", digestOf(layer), m.Layers[0].Digest)
	}
	zr, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]byte{"bin/": tar.TypeDir, "in/": tar.TypeDir, "out/": tar.TypeDir, "tmp/": tar.TypeDir,
		"proc/": tar.TypeDir, "bin/tool": tar.TypeReg, "bin/alias": tar.TypeSymlink}
	lr := tar.NewReader(zr)
	for {
		h, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || !h.ModTime.Equal(epoch) {
			t.Errorf("entry %q: got uid %d mtime %v, want 0 and the epoch", h.Name, h.Uid, h.ModTime)
		}
		if typ, ok := want[h.Name]; ok {
			if h.Typeflag != typ {
				t.Errorf("entry %q: got type %c, want %c", h.Name, h.Typeflag, typ)
			}
			delete(want, h.Name)
		}
	}
	for n := range want {
		t.Errorf("layer: missing %q", n)
	}
}
