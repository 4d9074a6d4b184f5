package ociarchive

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/klauspost/compress/zstd"
)

// Limits bound what the layers of an image may unpack to. A zero field
// takes its value from DefaultLimits.
type Limits struct {
	// MaxLayers is the most layers one image may have (64; overlayfs
	// mounts of many more fail, and 601 did).
	MaxLayers int
	// MaxLayerBytes bounds what one layer unpacks to (2 GiB): the sizes of
	// its files, a sparse file at its full size, plus a 512-byte block per
	// entry. The decompressed stream is cut off there too, so a
	// decompression bomb costs no more than reading that much.
	MaxLayerBytes int64
	// MaxImageBytes bounds what all the layers of an image unpack to
	// (4 GiB).
	MaxImageBytes int64
	// MaxEntries bounds the entries of all the layers of an image
	// (500,000).
	MaxEntries int
	// MaxID bounds the owners and groups of entries: both below it (65536,
	// the size of the range a job's ids are mapped to).
	MaxID int
}

// DefaultLimits returns the limits CheckImage applies when none are set.
func DefaultLimits() Limits {
	return Limits{MaxLayers: 64, MaxLayerBytes: 2 << 30, MaxImageBytes: 4 << 30, MaxEntries: 500_000, MaxID: 65536}
}

func (l Limits) effective() Limits {
	d := DefaultLimits()
	if l.MaxLayers > 0 {
		d.MaxLayers = l.MaxLayers
	}
	if l.MaxLayerBytes > 0 {
		d.MaxLayerBytes = l.MaxLayerBytes
	}
	if l.MaxImageBytes > 0 {
		d.MaxImageBytes = l.MaxImageBytes
	}
	if l.MaxEntries > 0 {
		d.MaxEntries = l.MaxEntries
	}
	if l.MaxID > 0 {
		d.MaxID = l.MaxID
	}
	return d
}

// Layer media types CheckImage reads; anything else (a foreign or
// encrypted layer) is refused.
const (
	mediaOCILayer        = "application/vnd.oci.image.layer.v1.tar"
	mediaOCILayerGzip    = "application/vnd.oci.image.layer.v1.tar+gzip"
	mediaOCILayerZstd    = "application/vnd.oci.image.layer.v1.tar+zstd"
	mediaDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// blockSize is what an entry costs beyond its content: a tar header, an
// inode.
const blockSize = 512

// CheckImage is Check, and then it reads every layer of every image in the
// archive, decompressed as a stream and never written anywhere, against
// lim: an image has at most MaxLayers layers, each of a known media type,
// whose decompressed content matches the diff ID its config names; a
// layer's entries are regular files, directories, symbolic and hard links
// with clean relative names below no symbolic link of the layer, owned
// by ids below MaxID; a symbolic link's target stays inside the image's
// root; a hard link names a regular file earlier in its layer; and the
// layer and the image unpack to at most MaxLayerBytes and MaxImageBytes,
// with at most MaxEntries entries. r is read twice (it is the upload's
// file). Errors are of class errdefs.ErrInvalidArgument and name the rule
// and the layer; ErrResourceExhausted is never used, since the archive,
// not the host, is at fault.
func CheckImage(r io.ReadSeeker, maxBytes int64, lim Limits) (Summary, error) {
	lim = lim.effective()
	sum, lay, err := checkArchive(r, maxBytes)
	if err != nil {
		return sum, err
	}
	// Cheap refusals first, from the manifests alone.
	want := map[string]string{} // layer digest -> media type
	for _, m := range lay.images {
		if len(m.Layers) > lim.MaxLayers {
			return sum, bad("image has %d layers, more than the limit of %d", len(m.Layers), lim.MaxLayers)
		}
		if len(m.Layers) == 0 {
			return sum, bad("image has no layers")
		}
		for _, l := range m.Layers {
			if !knownLayer(l.MediaType) {
				return sum, bad("layer %q has media type %q, which is not a plain, gzip or zstd tar layer", clip(l.Digest), clip(l.MediaType))
			}
			if mt, ok := want[l.Digest]; ok && mt != l.MediaType {
				return sum, bad("layer %q is named with two media types", clip(l.Digest))
			}
			want[l.Digest] = l.MediaType
		}
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return sum, fmt.Errorf("image archive: rewind: %w", err)
	}
	stats, err := readLayers(r, maxBytes, want, lim)
	if err != nil {
		return sum, err
	}
	for _, m := range lay.images {
		diffIDs, err := configDiffIDs(lay.jsons[m.Config.Digest])
		if err != nil {
			return sum, err
		}
		if len(diffIDs) != len(m.Layers) {
			return sum, bad("image config names %d diff IDs for %d layers", len(diffIDs), len(m.Layers))
		}
		var bytes int64
		entries := 0
		for i, l := range m.Layers {
			st := stats[l.Digest]
			if st.diffID != diffIDs[i] {
				return sum, bad("layer %d (%q) does not match the diff ID its config names", i+1, clip(l.Digest))
			}
			bytes += st.bytes
			entries += st.entries
			if bytes > lim.MaxImageBytes {
				return sum, bad("image unpacks to more than the limit of %d bytes (at layer %d)", lim.MaxImageBytes, i+1)
			}
			if entries > lim.MaxEntries {
				return sum, bad("image has more than the limit of %d entries (at layer %d)", lim.MaxEntries, i+1)
			}
		}
		sum.Unpacked = max(sum.Unpacked, bytes)
		sum.Entries = max(sum.Entries, entries)
	}
	return sum, nil
}

func knownLayer(mt string) bool {
	switch mt {
	case mediaOCILayer, mediaOCILayerGzip, mediaOCILayerZstd, mediaDockerLayerGzip:
		return true
	}
	return false
}

func configDiffIDs(data []byte) ([]string, error) {
	var cfg struct {
		RootFS struct {
			Type    string   `json:"type"`
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if data == nil || json.Unmarshal(data, &cfg) != nil || cfg.RootFS.Type != "layers" {
		return nil, bad("image config has no rootfs of type layers")
	}
	return cfg.RootFS.DiffIDs, nil
}

// layerStats is what one layer unpacks to.
type layerStats struct {
	bytes   int64
	entries int
	diffID  string
}

// readLayers reads the archive again and checks every blob named in want
// as a layer of its media type.
func readLayers(r io.Reader, maxBytes int64, want map[string]string, lim Limits) (map[string]layerStats, error) {
	tr := tar.NewReader(io.LimitReader(r, maxBytes+1))
	out := map[string]layerStats{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bad("not a readable tar archive")
		}
		hexd, ok := strings.CutPrefix(strings.TrimPrefix(h.Name, "./"), "blobs/sha256/")
		if !ok || h.Typeflag != tar.TypeReg {
			continue
		}
		d := "sha256:" + hexd
		mt, ok := want[d]
		if !ok {
			continue
		}
		if _, done := out[d]; done {
			continue
		}
		st, err := checkLayer(tr, mt, lim)
		if err != nil {
			return nil, fmt.Errorf("image archive: layer %q: %w", clip(d), err)
		}
		out[d] = st
	}
	for d := range want {
		if _, ok := out[d]; !ok {
			return nil, bad("layer %q is missing", clip(d))
		}
	}
	return out, nil
}

// checkLayer reads one layer blob as a tar stream of media type mt.
func checkLayer(blob io.Reader, mt string, lim Limits) (layerStats, error) {
	var st layerStats
	var stream io.Reader
	switch mt {
	case mediaOCILayer:
		stream = blob
	case mediaOCILayerGzip, mediaDockerLayerGzip:
		zr, err := gzip.NewReader(blob)
		if err != nil {
			return st, rule("not gzip-compressed")
		}
		defer zr.Close()
		stream = zr
	case mediaOCILayerZstd:
		zr, err := zstd.NewReader(blob, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(64<<20),
			zstd.WithDecoderMaxMemory(uint64(lim.MaxLayerBytes)))
		if err != nil {
			return st, rule("not zstd-compressed")
		}
		defer zr.Close()
		stream = zr
	}
	// The decompressed stream is cut off past the layer limit: a bomb
	// costs reading that much, never more, and nothing is written.
	cut := &capReader{r: stream, left: lim.MaxLayerBytes + 64<<10}
	h := sha256.New()
	ls := &layerState{lim: lim, kinds: map[string]byte{}}
	tr := tar.NewReader(io.TeeReader(cut, h))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if cut.over {
				return st, rule("unpacks to more than the limit of %d bytes", lim.MaxLayerBytes)
			}
			return st, rule("not a readable tar stream")
		}
		if err := ls.entry(hdr); err != nil {
			return st, err
		}
		if ls.bytes > lim.MaxLayerBytes {
			return st, rule("unpacks to more than the limit of %d bytes", lim.MaxLayerBytes)
		}
		if ls.entries > lim.MaxEntries {
			return st, rule("has more than the limit of %d entries", lim.MaxEntries)
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			if cut.over {
				return st, rule("unpacks to more than the limit of %d bytes", lim.MaxLayerBytes)
			}
			return st, rule("entry %q unreadable", clip(hdr.Name))
		}
	}
	// The diff ID covers the whole decompressed stream, padding included.
	if _, err := io.Copy(h, cut); err != nil {
		if cut.over {
			return st, rule("unpacks to more than the limit of %d bytes", lim.MaxLayerBytes)
		}
		return st, rule("compressed stream unreadable")
	}
	st.bytes, st.entries, st.diffID = ls.bytes, ls.entries, "sha256:"+hex.EncodeToString(h.Sum(nil))
	return st, nil
}

// layerState follows the entries of one layer.
type layerState struct {
	lim     Limits
	bytes   int64
	entries int
	// kinds holds the type of every path the layer created so far.
	kinds map[string]byte
}

// entry checks one entry of a layer and counts what it unpacks to.
func (ls *layerState) entry(h *tar.Header) error {
	if h.Typeflag == tar.TypeXGlobalHeader {
		return nil // PAX defaults for the entries after it; nothing on disk
	}
	ls.entries++
	ls.bytes += blockSize
	if h.Uid < 0 || h.Gid < 0 || h.Uid >= ls.lim.MaxID || h.Gid >= ls.lim.MaxID {
		return rule("entry %q is owned by %d:%d, outside 0-%d", clip(h.Name), h.Uid, h.Gid, ls.lim.MaxID-1)
	}
	name, ok := cleanName(h.Name)
	if !ok {
		if isRoot(h.Name) && h.Typeflag == tar.TypeDir {
			return nil // the root itself ("./")
		}
		return rule("entry %q has an unsafe name", clip(h.Name))
	}
	// No entry goes below a symbolic link of its layer: unpacking it
	// would follow the link.
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		if ls.kinds[dir] == tar.TypeSymlink {
			return rule("entry %q lies below the symbolic link %q", clip(name), clip(dir))
		}
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		if h.Size < 0 {
			return rule("entry %q has a negative size", clip(name))
		}
		ls.bytes += h.Size
		ls.kinds[name] = tar.TypeReg
	case tar.TypeDir:
		ls.kinds[name] = tar.TypeDir
	case tar.TypeSymlink:
		if err := symlinkInside(name, h.Linkname); err != nil {
			return err
		}
		ls.bytes += int64(len(h.Linkname))
		ls.kinds[name] = tar.TypeSymlink
	case tar.TypeLink:
		target, ok := cleanName(h.Linkname)
		if !ok {
			return rule("hard link %q points outside the image (%q)", clip(name), clip(h.Linkname))
		}
		if ls.kinds[target] != tar.TypeReg {
			return rule("hard link %q does not name a regular file earlier in its layer", clip(name))
		}
		ls.kinds[name] = tar.TypeReg
	case tar.TypeChar, tar.TypeBlock:
		return rule("entry %q is a device file", clip(name))
	case tar.TypeFifo:
		return rule("entry %q is a named pipe", clip(name))
	default:
		return rule("entry %q has type %q, which a job image does not need", clip(name), string(rune(h.Typeflag)))
	}
	return nil
}

// cleanName returns the path of an entry relative to the image's root: a
// leading "./" or "/" is dropped; an empty name, a NUL, or a ".." that
// leaves the root is refused.
func cleanName(n string) (string, bool) {
	if strings.ContainsRune(n, 0) || len(n) > 4096 {
		return "", false
	}
	n = strings.TrimPrefix(n, "./")
	n = strings.TrimLeft(n, "/")
	n = strings.TrimSuffix(n, "/")
	if n == "" || n == "." {
		return "", false
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", false
		}
	}
	return path.Clean(n), true
}

func isRoot(n string) bool {
	return strings.Trim(n, "./") == "" && n != "" && !strings.Contains(n, "..")
}

// symlinkInside refuses a symbolic link at name whose target, resolved
// from the link's directory (an absolute target from the root), leaves the
// image's root.
func symlinkInside(name, target string) error {
	if target == "" || strings.ContainsRune(target, 0) || len(target) > 4096 {
		return rule("symbolic link %q has an empty or malformed target", clip(name))
	}
	base := path.Dir(name)
	if strings.HasPrefix(target, "/") {
		base = ""
	}
	depth := 0
	if base != "." && base != "" {
		depth = strings.Count(base, "/") + 1
	}
	for _, part := range strings.Split(target, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return rule("symbolic link %q points outside the image (%q)", clip(name), clip(target))
			}
		default:
			depth++
		}
	}
	return nil
}

// rule is the error of a layer that breaks a rule of Limits; readLayers
// names the layer.
func rule(format string, a ...any) error {
	return fmt.Errorf(format+": %w", append(a, errdefs.ErrInvalidArgument)...)
}

// capReader reads at most left bytes and then fails, noting that the
// stream went on.
type capReader struct {
	r    io.Reader
	left int64
	over bool
}

var errOverLimit = fmt.Errorf("layer over its limit: %w", errdefs.ErrInvalidArgument)

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			c.over = true
			return 0, errOverLimit
		}
		return c.r.Read(p)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
