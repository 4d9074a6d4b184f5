package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
)

// initResult is what `enclaved init --json` prints.
type initResult struct {
	DataDir    string `json:"data_dir"`
	AdminID    string `json:"admin_id"`
	AdminToken string `json:"admin_token"`
	Org        string `json:"org"`
}

func runInit(args []string) error {
	cfg := Default()
	fs := flag.NewFlagSet("enclaved init", flag.ContinueOnError)
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "the data directory to create")
	asJSON := fs.Bool("json", false, "print JSON")
	org := fs.String("org", "platform-operations", "the organisation of the first admin")
	admin := fs.String("admin-name", "admin", "the first admin's name")
	fs.StringVar(&cfg.VaultAddr, "vault-addr", "", "keep the keys in Vault's transit engine at this URL (token in VAULT_TOKEN) instead of the local keyring")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	res, err := initDataDir(context.Background(), cfg, *org, *admin)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Printf("initialised %s\nfirst admin %s (%s) of %s\nadmin token (shown once, keep it safe):\n%s\n",
		res.DataDir, *admin, res.AdminID, res.Org, res.AdminToken)
	return nil
}

// initDataDir builds the data directory in a sibling staging directory and
// renames it into place, so that a failed or repeated init changes nothing.
func initDataDir(ctx context.Context, cfg Config, orgName, adminName string) (initResult, error) {
	dir := cfg.DataDir
	if ents, err := os.ReadDir(dir); err == nil {
		if len(ents) > 0 {
			return initResult{}, fmt.Errorf("data directory %q already exists and is not empty; refusing to initialise it again", dir)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return initResult{}, fmt.Errorf("inspect data directory: %w", err)
	}
	if err := people.ValidName("organisation", orgName); err != nil {
		return initResult{}, err
	}
	if err := people.ValidName("person", adminName); err != nil {
		return initResult{}, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return initResult{}, err
	}
	stage, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".init-")
	if err != nil {
		return initResult{}, fmt.Errorf("create staging directory: %w", err)
	}
	defer os.RemoveAll(stage)
	if err := os.Chmod(stage, 0o700); err != nil {
		return initResult{}, err
	}
	scfg := cfg
	scfg.DataDir = stage
	res, err := populate(ctx, scfg, orgName, adminName)
	if err != nil {
		return initResult{}, err
	}
	// An empty directory that already exists is replaced; a non-empty one
	// was refused above, and rename refuses one that appeared meanwhile.
	os.Remove(dir)
	if err := os.Rename(stage, dir); err != nil {
		return initResult{}, fmt.Errorf("publish data directory: %w", err)
	}
	if d, err := os.Open(filepath.Dir(dir)); err == nil {
		d.Sync()
		d.Close()
	}
	res.DataDir = dir
	return res, nil
}

func populate(ctx context.Context, cfg Config, orgName, adminName string) (initResult, error) {
	kr, err := createKeyring(ctx, cfg)
	if err != nil {
		return initResult{}, fmt.Errorf("create keyring: %w", err)
	}
	pub, err := kr.PublicKey(ctx)
	if err != nil {
		return initResult{}, err
	}
	db, err := store.Open(ctx, cfg.statePath())
	if err != nil {
		return initResult{}, err
	}
	defer db.Close()
	alog, err := audit.Open(cfg.auditDir(), kr, pub)
	if err != nil {
		return initResult{}, fmt.Errorf("create audit log: %w", err)
	}
	defer alog.Close()

	now := time.Now().UTC()
	org := people.Org{Name: orgName, Type: people.Agency, LicenceFrom: now.Format(people.DateLayout),
		LicenceUntil: now.AddDate(people.MaxLicence, 0, 0).Format(people.DateLayout), Status: people.Active,
		StatusReason: "platform operations", CreatedAt: now, UpdatedAt: now}
	p := people.Person{ID: people.NewID("p_"), Name: adminName, Org: orgName, Roles: []people.Role{people.Admin}, CreatedAt: now, CreatedBy: "system"}
	tok, hash, err := people.NewToken()
	if err != nil {
		return initResult{}, err
	}
	t := people.Token{ID: people.NewID("t_"), Person: p.ID, CreatedAt: now, ExpiresAt: now.Add(cfg.TokenTTL)}
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		if err := people.CreateOrg(ctx, tx, org); err != nil {
			return err
		}
		if err := people.CreatePerson(ctx, tx, p, ""); err != nil {
			return err
		}
		return people.CreateToken(ctx, tx, t, hash)
	}, func(tx *sql.Tx) error {
		for _, ev := range []audit.Event{
			{Action: "enclave.init", Objects: []string{"keyring:" + kr.Name()}, Details: map[string]string{"schema": "v1"}},
			{Action: "org.add", Objects: []string{"org:" + orgName}, Details: map[string]string{"type": string(org.Type)}},
			{Action: "person.add", Objects: []string{"person:" + p.ID, "org:" + orgName, "token:" + t.ID}, Details: map[string]string{"roles": "admin"}},
		} {
			ev.Time, ev.Actor, ev.Outcome, ev.Retention = now, "system", "ok", "3y"
			idx, err := alog.Append(ctx, ev)
			if err != nil {
				return fmt.Errorf("audit append: %w", err)
			}
			if err := store.RecordAuditIndex(ctx, tx, idx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return initResult{}, err
	}
	return initResult{AdminID: p.ID, AdminToken: tok, Org: orgName}, nil
}
