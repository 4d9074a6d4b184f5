// Package ociarchive checks an OCI image-layout tar archive before anything
// else reads it: an operator's image import is outside input. The archive
// must hold only regular files and directories with clean names, an
// oci-layout marker, an index.json, and content-addressed blobs whose bytes
// match their names; every manifest, config and layer the index reaches
// must be present with the size its descriptor gives (Check). CheckImage
// goes on into the layers, streaming, before anything is unpacked: how
// many there are, what each unpacks to, its entries' types, names, link
// targets and owners (Limits).
package ociarchive

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/containerd/errdefs"
)

// Limits on what Check reads.
const (
	MaxEntries   = 10000
	MaxJSONBytes = 4 << 20
)

// Summary describes a checked archive.
type Summary struct {
	Manifests int
	Layers    int
	Bytes     int64
	// Unpacked is what the largest image of the archive unpacks to, in
	// bytes (the sizes of its files plus a block per entry), and Entries
	// how many entries its layers hold. Only CheckImage fills them.
	Unpacked int64
	Entries  int
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	Manifests     []descriptor `json:"manifests"`
}

type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
	Manifests     []descriptor `json:"manifests"` // a nested index
}

// layout is what the archive pass learns: the image manifests the index
// reaches, and the small blobs (manifests, configs) by digest.
type layout struct {
	images []manifest
	jsons  map[string][]byte
}

func bad(format string, a ...any) error {
	return fmt.Errorf("image archive: "+format+": %w", append(a, errdefs.ErrInvalidArgument)...)
}

// Check reads the whole archive from r (at most maxBytes) and returns an
// errdefs.ErrInvalidArgument class error naming the first thing wrong.
func Check(r io.Reader, maxBytes int64) (Summary, error) {
	sum, _, err := checkArchive(r, maxBytes)
	return sum, err
}

// checkArchive is Check, returning also the layout it found.
func checkArchive(r io.Reader, maxBytes int64) (Summary, *layout, error) {
	var sum Summary
	tr := tar.NewReader(io.LimitReader(r, maxBytes+1))
	blobs := map[string]int64{}  // digest -> size
	jsons := map[string][]byte{} // small blobs kept to parse manifests
	var layoutOK bool
	var idx []byte
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sum, nil, bad("not a readable tar archive")
		}
		n++
		if n > MaxEntries {
			return sum, nil, bad("more than %d entries", MaxEntries)
		}
		name := strings.TrimPrefix(h.Name, "./")
		if name == "" || strings.HasPrefix(name, "/") || path.Clean(name) != strings.TrimSuffix(name, "/") || strings.Contains(name, "..") {
			return sum, nil, bad("entry %q has an unsafe name", clip(h.Name))
		}
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return sum, nil, bad("entry %q is not a regular file or directory", clip(h.Name))
		}
		switch {
		case name == "oci-layout":
			data, err := io.ReadAll(io.LimitReader(tr, 4096))
			if err != nil {
				return sum, nil, bad("oci-layout unreadable")
			}
			var l struct {
				Version string `json:"imageLayoutVersion"`
			}
			if json.Unmarshal(data, &l) != nil || l.Version != "1.0.0" {
				return sum, nil, bad("oci-layout is not image layout version 1.0.0")
			}
			layoutOK = true
		case name == "index.json":
			data, err := io.ReadAll(io.LimitReader(tr, MaxJSONBytes+1))
			if err != nil || len(data) > MaxJSONBytes {
				return sum, nil, bad("index.json unreadable or too large")
			}
			idx = data
		case strings.HasPrefix(name, "blobs/sha256/"):
			hexd := strings.TrimPrefix(name, "blobs/sha256/")
			if len(hexd) != 64 || strings.Trim(hexd, "0123456789abcdef") != "" {
				return sum, nil, bad("blob %q is not named by a sha256 digest", clip(name))
			}
			hh := sha256.New()
			var keep []byte
			var w io.Writer = hh
			var buf *limitedBuffer
			if h.Size <= MaxJSONBytes {
				buf = &limitedBuffer{max: MaxJSONBytes}
				w = io.MultiWriter(hh, buf)
			}
			size, err := io.Copy(w, tr)
			if err != nil {
				return sum, nil, bad("blob %q unreadable", clip(name))
			}
			if hex.EncodeToString(hh.Sum(nil)) != hexd {
				return sum, nil, bad("blob %q does not match its digest", clip(name))
			}
			if buf != nil {
				keep = buf.b
				jsons["sha256:"+hexd] = keep
			}
			blobs["sha256:"+hexd] = size
			sum.Bytes += size
		default:
			// Other files (for example a Docker manifest.json) are allowed
			// but not trusted.
			if _, err := io.Copy(io.Discard, tr); err != nil {
				return sum, nil, bad("entry %q unreadable", clip(name))
			}
		}
	}
	if !layoutOK {
		return sum, nil, bad("no oci-layout file")
	}
	if idx == nil {
		return sum, nil, bad("no index.json")
	}
	var ix index
	if err := strictJSON(idx, &ix); err != nil || ix.SchemaVersion != 2 || len(ix.Manifests) == 0 {
		return sum, nil, bad("index.json is not an OCI index with manifests")
	}
	var images []manifest
	var walk func(d descriptor, depth int) error
	walk = func(d descriptor, depth int) error {
		if depth > 4 {
			return bad("indexes nested too deep")
		}
		size, ok := blobs[d.Digest]
		if !ok {
			return bad("blob %q named by a descriptor is missing", clip(d.Digest))
		}
		if size != d.Size {
			return bad("blob %q has size %d, its descriptor says %d", clip(d.Digest), size, d.Size)
		}
		data, ok := jsons[d.Digest]
		if !ok {
			return bad("manifest %q is too large", clip(d.Digest))
		}
		var m manifest
		if err := json.Unmarshal(data, &m); err != nil || m.SchemaVersion != 2 {
			return bad("manifest %q does not parse", clip(d.Digest))
		}
		if len(m.Manifests) > 0 {
			for _, c := range m.Manifests {
				if err := walk(c, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		sum.Manifests++
		images = append(images, m)
		for _, l := range append([]descriptor{m.Config}, m.Layers...) {
			s, ok := blobs[l.Digest]
			if !ok {
				return bad("blob %q named by manifest %q is missing", clip(l.Digest), clip(d.Digest))
			}
			if s != l.Size {
				return bad("blob %q has size %d, its descriptor says %d", clip(l.Digest), s, l.Size)
			}
		}
		sum.Layers += len(m.Layers)
		return nil
	}
	for _, d := range ix.Manifests {
		if err := walk(d, 0); err != nil {
			return sum, nil, err
		}
	}
	return sum, &layout{images: images, jsons: jsons}, nil
}

func strictJSON(data []byte, v any) error {
	return json.Unmarshal(data, v)
}

type limitedBuffer struct {
	b   []byte
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if len(l.b)+len(p) <= l.max {
		l.b = append(l.b, p...)
	}
	return len(p), nil
}

func clip(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
