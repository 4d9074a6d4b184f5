package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
)

// TestInitRequiresIdentity: the first admin has a valid resident ID number
// and the platform organisation a valid credit code; the number is kept
// only as a keyed hash and its masked form.
func TestInitRequiresIdentity(t *testing.T) {
	ctx := context.Background()
	var usage usageError
	if err := runInit([]string{"--data-dir", filepath.Join(t.TempDir(), "d")}); !errors.As(err, &usage) || !strings.Contains(err.Error(), "--admin-id-number") {
		t.Errorf("init without identity: got %v, want a usage error naming --admin-id-number", err)
	}
	good := testAdmin("platform")
	for _, tc := range []struct {
		name string
		edit func(*firstAdmin)
		want string
	}{
		{"bad id number", func(f *firstAdmin) { f.IDNumber = f.IDNumber[:17] + otherCheck(f.IDNumber[17]) }, people.RuleIDNumber},
		{"birth date in the future", func(f *firstAdmin) { f.IDNumber = "990100209901010014" }, people.RuleIDNumber},
		{"bad credit code", func(f *firstAdmin) { f.USCC = f.USCC[:17] + otherCheck(f.USCC[17]) }, people.RuleUSCC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := good
			tc.edit(&f)
			cfg := Default()
			cfg.DataDir = filepath.Join(t.TempDir(), "data")
			_, err := initDataDir(ctx, cfg, f)
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an invalid-argument error naming %q", err, tc.want)
			}
			if strings.Contains(err.Error(), f.IDNumber) {
				t.Fatalf("got %v, want an error without the number", err)
			}
			if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
				t.Fatalf("got a data directory (%v), want none", err)
			}
		})
	}
	cfg := Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	res, err := initDataDir(ctx, cfg, good)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, cfg.statePath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := people.GetPerson(ctx, db.SQL(), res.AdminID)
	if err != nil {
		t.Fatal(err)
	}
	if want := good.IDNumber[:3] + "***********" + good.IDNumber[14:]; p.IDNumberMasked != want {
		t.Errorf("got masked id %q, want %q", p.IDNumberMasked, want)
	}
	o, err := people.GetOrg(ctx, db.SQL(), "platform")
	if err != nil || o.USCC != good.USCC || o.SecurityLead != "admin" {
		t.Errorf("got organisation %+v %v, want code %s and the admin as security lead", o, err, good.USCC)
	}
	db.Close()
	filepath.Walk(cfg.DataDir, func(path string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(good.IDNumber)) {
				t.Errorf("got the raw ID number in %s, want it nowhere", path)
			}
		}
		return nil
	})
}

// otherCheck returns a check character other than c.
func otherCheck(c byte) string {
	if c == '1' {
		return "2"
	}
	return "1"
}
