package ociarchive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/klauspost/compress/zstd"
)

// layerEntry is one entry of a test layer.
type layerEntry struct {
	name, link string
	typ        byte
	data       []byte
	size       int64 // when data is nil: a file of this many zero bytes
	uid        int
}

// layerTar writes entries as a tar stream.
func layerTar(t testing.TB, es []layerEntry) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Mode: 0o755, Uid: e.uid, Gid: e.uid}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.data))
			if e.data == nil {
				h.Size = e.size
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if e.data != nil {
				tw.Write(e.data)
			} else {
				zeros := make([]byte, 64<<10)
				for left := e.size; left > 0; left -= int64(len(zeros)) {
					tw.Write(zeros[:min(left, int64(len(zeros)))])
				}
			}
		}
	}
	tw.Close()
	return b.Bytes()
}

// testLayer is a layer of a test image: its tar stream, its media type
// and, when it differs, the compression it is stored with.
type testLayer struct {
	raw    []byte
	mt     string
	stored string
}

func compress(t testing.TB, raw []byte, mt string) []byte {
	var b bytes.Buffer
	switch mt {
	case mediaOCILayerGzip, mediaDockerLayerGzip:
		zw := gzip.NewWriter(&b)
		zw.Write(raw)
		zw.Close()
	case mediaOCILayerZstd:
		zw, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(raw)
		zw.Close()
	default:
		return raw
	}
	return b.Bytes()
}

// image builds an OCI archive of one image with layers; diffIDs, when not
// nil, replaces the config's.
func image(t testing.TB, layers []testLayer, diffIDs []string) []byte {
	var descs []any
	var ids []string
	blobs := map[string][]byte{}
	for _, l := range layers {
		mt := l.mt
		if mt == "" {
			mt = mediaOCILayerGzip
		}
		stored := l.stored
		if stored == "" {
			stored = mt
		}
		c := compress(t, l.raw, stored)
		blobs[digest(c)] = c
		descs = append(descs, map[string]any{"mediaType": mt, "digest": digest(c), "size": len(c)})
		ids = append(ids, digest(l.raw))
	}
	if diffIDs != nil {
		ids = diffIDs
	}
	config, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": ids}})
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
		"layers": descs})
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{map[string]any{
		"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(man), "size": len(man)}}})
	blobs[digest(config)] = config
	blobs[digest(man)] = man
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

// rootfs is a small, valid layer: directories, files, a link to a file of
// the image by absolute path and one by relative path, a hard link.
func rootfs() []layerEntry {
	return []layerEntry{
		{name: "./", typ: tar.TypeDir},
		{name: "bin/", typ: tar.TypeDir},
		{name: "bin/busybox", data: []byte("#!busybox")},
		{name: "bin/sh", typ: tar.TypeSymlink, link: "/bin/busybox"},
		{name: "bin/ls", typ: tar.TypeSymlink, link: "busybox"},
		{name: "bin/cat", typ: tar.TypeLink, link: "bin/busybox"},
		{name: "etc/", typ: tar.TypeDir},
		{name: "etc/passwd", data: []byte("root:x:0:0::/:/bin/sh\n"), uid: 0},
		{name: "home/", typ: tar.TypeDir, uid: 65534},
		{name: ".wh.old", data: []byte{}},
	}
}

func TestCheckImageAccepts(t *testing.T) {
	raw := layerTar(t, rootfs())
	for _, mt := range []string{mediaOCILayer, mediaOCILayerGzip, mediaOCILayerZstd, mediaDockerLayerGzip} {
		t.Run(mt, func(t *testing.T) {
			s, err := CheckImage(bytes.NewReader(image(t, []testLayer{{raw: raw, mt: mt}, {raw: layerTar(t, []layerEntry{{name: "opt/x", size: 1000}}), mt: mt}}, nil)), 1<<20, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			// 11 entries of 512 bytes, 9 + 22 + 0 + 1000 bytes of files,
			// the links' targets (12 + 7).
			if want := int64(11*blockSize + 9 + 22 + 1000 + 12 + 7); s.Unpacked != want || s.Entries != 11 || s.Layers != 2 || s.Manifests != 1 {
				t.Fatalf("got %+v, want %d bytes unpacked in 11 entries of 2 layers", s, want)
			}
		})
	}
}

func TestCheckImageRefuses(t *testing.T) {
	one := func(es ...layerEntry) []testLayer {
		return []testLayer{{raw: layerTar(t, append(rootfs(), es...))}}
	}
	bomb := layerTar(t, []layerEntry{{name: "zeros", size: 64 << 20}})
	many := make([]testLayer, 601)
	for i := range many {
		many[i] = testLayer{raw: layerTar(t, []layerEntry{{name: "f", data: []byte{byte(i), byte(i >> 8)}}})}
	}
	for _, tc := range []struct {
		name    string
		archive []byte
		lim     Limits
		want    string
	}{
		{"a gzip bomb", image(t, []testLayer{{raw: bomb}}, nil), Limits{MaxLayerBytes: 8 << 20}, "unpacks to more than the limit of 8388608 bytes"},
		{"a zstd bomb", image(t, []testLayer{{raw: bomb, mt: mediaOCILayerZstd}}, nil), Limits{MaxLayerBytes: 8 << 20}, "unpacks to more than the limit"},
		{"an image over its limit", image(t, []testLayer{{raw: layerTar(t, []layerEntry{{name: "a", size: 6 << 20}})},
			{raw: layerTar(t, []layerEntry{{name: "b", size: 6 << 20}})}}, nil), Limits{MaxLayerBytes: 8 << 20, MaxImageBytes: 10 << 20}, "image unpacks to more than the limit of 10485760 bytes (at layer 2)"},
		{"601 layers", image(t, many, nil), Limits{}, "image has 601 layers, more than the limit of 64"},
		{"too many entries", image(t, one(), nil), Limits{MaxEntries: 5}, "more than the limit of 5 entries"},
		{"a hard link out of the root", image(t, one(layerEntry{name: "x", typ: tar.TypeLink, link: "../../etc/shadow"}), nil), Limits{}, `hard link "x" points outside the image`},
		{"a hard link to a host file", image(t, one(layerEntry{name: "x", typ: tar.TypeLink, link: "/etc/shadow"}), nil), Limits{}, `hard link "x" does not name a regular file earlier in its layer`},
		{"a hard link to a directory", image(t, one(layerEntry{name: "x", typ: tar.TypeLink, link: "etc"}), nil), Limits{}, "does not name a regular file"},
		{"a symbolic link out of the root", image(t, one(layerEntry{name: "etc/x", typ: tar.TypeSymlink, link: "../../../etc/shadow"}), nil), Limits{}, `symbolic link "etc/x" points outside the image`},
		{"an entry below a symbolic link", image(t, one(layerEntry{name: "cfg", typ: tar.TypeSymlink, link: "/etc"},
			layerEntry{name: "cfg/passwd", data: []byte("x")}), nil), Limits{}, `entry "cfg/passwd" lies below the symbolic link "cfg"`},
		{"an entry out of the root", image(t, one(layerEntry{name: "../escape", data: []byte("x")}), nil), Limits{}, "has an unsafe name"},
		{"an owner outside the range", image(t, one(layerEntry{name: "x", data: []byte("x"), uid: 100000}), nil), Limits{}, `entry "x" is owned by 100000:100000, outside 0-65535`},
		{"a device", image(t, one(layerEntry{name: "dev/sda", typ: tar.TypeBlock}), nil), Limits{}, "is a device file"},
		{"a named pipe", image(t, one(layerEntry{name: "p", typ: tar.TypeFifo}), nil), Limits{}, "is a named pipe"},
		{"a wrong diff ID", image(t, one(), []string{digest([]byte("other"))}), Limits{}, "does not match the diff ID"},
		{"diff IDs missing", image(t, one(), []string{}), Limits{}, "names 0 diff IDs for 1 layers"},
		{"a foreign layer", image(t, []testLayer{{raw: layerTar(t, rootfs()), mt: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"}}, nil), Limits{}, "is not a plain, gzip or zstd tar layer"},
		{"a layer that is not gzip", image(t, []testLayer{{raw: layerTar(t, rootfs()), mt: mediaOCILayerGzip, stored: mediaOCILayer}}, nil), Limits{}, "not gzip-compressed"},
		{"a layer that is not a tar stream", image(t, []testLayer{{raw: []byte("plain text, no tar")}}, nil), Limits{}, "not a readable tar stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckImage(bytes.NewReader(tc.archive), 64<<20, tc.lim)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got %v, want an invalid-argument error containing %q", err, tc.want)
			}
		})
	}
}

// FuzzCheckImage: whatever a layer holds, CheckImage answers an
// invalid-argument error or a summary within its limits, and never panics.
func FuzzCheckImage(f *testing.F) {
	f.Add(layerTar(f, rootfs()))
	f.Add(layerTar(f, []layerEntry{{name: "x", typ: tar.TypeLink, link: "../y"}}))
	f.Add([]byte("not a tar"))
	f.Add([]byte{})
	lim := Limits{MaxLayerBytes: 1 << 20, MaxImageBytes: 1 << 20, MaxEntries: 1000}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, mt := range []string{mediaOCILayer, mediaOCILayerGzip} {
			s, err := CheckImage(bytes.NewReader(image(t, []testLayer{{raw: raw, mt: mt}}, nil)), 16<<20, lim)
			if err != nil {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("error of another class: %v", err)
				}
				continue
			}
			if s.Unpacked > lim.MaxImageBytes || s.Entries > lim.MaxEntries {
				t.Fatalf("accepted %+v over the limits", s)
			}
		}
	})
}
