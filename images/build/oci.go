package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path"
	"runtime"
	"sort"
	"time"
)

// epoch is the timestamp of every file and image, for reproducible bytes.
var epoch = time.Unix(0, 0).UTC()

// File is one entry of an image's single layer.
type File struct {
	Path string // relative, "/"-separated
	Mode int64
	Data []byte
	Link string // symlink target when set
}

// Image is a single-layer image.
type Image struct {
	Name       string
	Files      []File
	Entrypoint []string
	Cmd        []string
}

// baseDirs exist in every image: mount points must exist because the root
// file system is read-only in a job.
var baseDirs = []string{"bin", "dev", "etc", "in", "out", "proc", "sys", "tmp"}

const (
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// layerTar returns the uncompressed layer.
func layerTar(img Image) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	type entry struct {
		hdr  *tar.Header
		data []byte
	}
	var entries []entry
	for _, d := range baseDirs {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		entries = append(entries, entry{hdr: &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode}})
	}
	entries = append(entries, entry{
		hdr:  &tar.Header{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644},
		data: []byte("root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"),
	})
	for _, f := range img.Files {
		h := &tar.Header{Name: f.Path, Mode: f.Mode}
		switch {
		case f.Link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.Link, 0o777
		default:
			h.Typeflag = tar.TypeReg
		}
		entries = append(entries, entry{hdr: h, data: f.Data})
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].hdr.Name < entries[j].hdr.Name })
	for _, e := range entries {
		e.hdr.ModTime, e.hdr.Format = epoch, tar.FormatPAX
		e.hdr.Size = int64(len(e.data))
		if err := tw.WriteHeader(e.hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func gz(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Build returns the blobs of img and the index.json of its layout.
func Build(img Image) (blobs map[string][]byte, index []byte, err error) {
	raw, err := layerTar(img)
	if err != nil {
		return nil, nil, err
	}
	layer, err := gz(raw)
	if err != nil {
		return nil, nil, err
	}
	cfg := map[string]any{
		"created":      epoch.Format(time.RFC3339),
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Env":        []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
			"Entrypoint": img.Entrypoint,
			"Cmd":        img.Cmd,
			"WorkingDir": "/",
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{digestOf(raw)}},
		"history": []map[string]any{{"created": epoch.Format(time.RFC3339), "created_by": "enclave images/build " + img.Name}},
	}
	cfgb, err := json.Marshal(cfg)
	if err != nil {
		return nil, nil, err
	}
	man := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaManifest,
		"config":        descriptor{MediaType: mediaConfig, Digest: digestOf(cfgb), Size: int64(len(cfgb))},
		"layers":        []descriptor{{MediaType: mediaLayer, Digest: digestOf(layer), Size: int64(len(layer))}},
	}
	manb, err := json.Marshal(man)
	if err != nil {
		return nil, nil, err
	}
	idx := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaIndex,
		"manifests": []descriptor{{
			MediaType: mediaManifest, Digest: digestOf(manb), Size: int64(len(manb)),
			Annotations: map[string]string{
				"org.opencontainers.image.ref.name": "latest",
				"io.containerd.image.name":          "enclave.local/" + img.Name + ":latest",
			},
		}},
	}
	index, err = json.Marshal(idx)
	if err != nil {
		return nil, nil, err
	}
	blobs = map[string][]byte{digestOf(layer): layer, digestOf(cfgb): cfgb, digestOf(manb): manb}
	return blobs, index, nil
}

// writeArchive writes img as an OCI image-layout tar to file.
func writeArchive(file string, img Image) error {
	blobs, index, err := Build(img)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) error {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := add("index.json", index); err != nil {
		return err
	}
	var names []string
	for d := range blobs {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, d := range names {
		if err := add(path.Join("blobs", "sha256", d[len("sha256:"):]), blobs[d]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
