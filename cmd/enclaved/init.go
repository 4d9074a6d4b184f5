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
	"github.com/enclave-dev/enclave/enclave/pii"
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
	var first firstAdmin
	fs.StringVar(&first.Org, "org", "platform-operations", "the organisation of the first admin")
	fs.StringVar(&first.USCC, "org-uscc", "", "the unified social credit code of that organisation (required)")
	fs.StringVar(&first.Name, "admin-name", "admin", "the first admin's name")
	fs.StringVar(&first.IDNumber, "admin-id-number", "", "the first admin's resident ID number (required; stored only as a keyed hash and a masked form)")
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
	if first.USCC == "" || first.IDNumber == "" {
		return usageError{fmt.Errorf("--org-uscc and --admin-id-number are required")}
	}
	res, err := initDataDir(context.Background(), cfg, first)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Printf("initialised %s\nfirst admin %s (%s) of %s\nadmin token (shown once, keep it safe):\n%s\n",
		res.DataDir, first.Name, res.AdminID, res.Org, res.AdminToken)
	return nil
}

// firstAdmin is the first admin that init registers, and their
// organisation.
type firstAdmin struct {
	Org, USCC      string // the organisation and its unified social credit code
	Name, IDNumber string // the admin and their resident ID number
}

// initDataDir builds the data directory in a sibling staging directory and
// renames it into place, so that a failed or repeated init changes nothing.
func initDataDir(ctx context.Context, cfg Config, first firstAdmin) (initResult, error) {
	dir := cfg.DataDir
	if ents, err := os.ReadDir(dir); err == nil {
		if len(ents) > 0 {
			return initResult{}, fmt.Errorf("data directory %q already exists and is not empty; refusing to initialise it again", dir)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return initResult{}, fmt.Errorf("inspect data directory: %w", err)
	}
	if err := people.ValidName("organisation", first.Org); err != nil {
		return initResult{}, err
	}
	if err := people.ValidName("person", first.Name); err != nil {
		return initResult{}, err
	}
	uscc, err := people.CheckUSCC(first.USCC)
	if err != nil {
		return initResult{}, err
	}
	first.USCC = uscc
	if err := people.CheckIDNumber(first.IDNumber, time.Now()); err != nil {
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
	res, err := populate(ctx, scfg, first)
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

func populate(ctx context.Context, cfg Config, first firstAdmin) (initResult, error) {
	orgName := first.Org
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

	idKey, err := kr.Secret(ctx, "id-number")
	if err != nil {
		return initResult{}, err
	}
	now := time.Now().UTC()
	org := people.Org{Name: orgName, Type: people.Agency, USCC: first.USCC, LicenceFrom: now.Format(people.DateLayout),
		LicenceUntil: now.AddDate(people.MaxLicence, 0, 0).Format(people.DateLayout),
		Application: people.Application{BusinessScope: "operation of the enclave platform", SecurityLead: first.Name, Principal: first.Name,
			DataDisposal: "the platform destroys every dataset and derived product at the end of its legal basis"},
		Status: people.Active, StatusReason: "platform operations", CreatedAt: now, UpdatedAt: now}
	p := people.Person{ID: people.NewID("p_"), Name: first.Name, Org: orgName, Roles: []people.Role{people.Admin},
		IDNumberMasked: pii.MaskResidentID(first.IDNumber), CreatedAt: now, CreatedBy: "system"}
	tok, hash, err := people.NewToken()
	if err != nil {
		return initResult{}, err
	}
	t := people.Token{ID: people.NewID("t_"), Person: p.ID, CreatedAt: now, ExpiresAt: now.Add(cfg.TokenTTL)}
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		if err := people.CreateOrg(ctx, tx, org); err != nil {
			return err
		}
		if err := people.CreatePerson(ctx, tx, p, people.HashIDNumber(idKey, first.IDNumber)); err != nil {
			return err
		}
		return people.CreateToken(ctx, tx, t, hash)
	}, func(tx *sql.Tx) error {
		for _, ev := range []audit.Event{
			{Action: "enclave.init", Objects: []string{"keyring:" + kr.Name()}, Details: map[string]string{"schema": "v1"}},
			{Action: "org.add", Objects: []string{"org:" + orgName}, Details: map[string]string{"type": string(org.Type),
				"uscc_digest": people.HashIDNumber(idKey, first.USCC)[:16]}},
			{Action: "person.add", Objects: []string{"person:" + p.ID, "org:" + orgName, "token:" + t.ID}, Details: map[string]string{"roles": "admin", "id_number_verified": "true"}},
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
