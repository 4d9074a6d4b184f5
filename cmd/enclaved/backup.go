package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/enclave-dev/enclave/enclave/backup"
	"github.com/enclave-dev/enclave/enclave/keys"
)

func runBackup(args []string) error {
	cfg := Default()
	fs := flag.NewFlagSet("enclaved backup", flag.ContinueOnError)
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "the data directory to back up (the daemon may be serving)")
	to := fs.String("to", "", "a new or empty directory for the backup")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *to == "" || fs.NArg() > 0 {
		return usageError{fmt.Errorf("--to DIR is required")}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	m, err := backup.Backup(context.Background(), cfg.DataDir, *to, os.Getenv("ENCLAVE_BACKUP_PASSPHRASE"))
	if err != nil {
		return err
	}
	fmt.Printf("backed up %s to %s: %d files, keyring sealed under the passphrase (ENCLAVE_BACKUP_PASSPHRASE), its tombstones in %s\n",
		cfg.DataDir, *to, len(m.Files), backup.TombstonesFile)
	return nil
}

func runRestore(args []string) error {
	cfg := Default()
	fs := flag.NewFlagSet("enclaved restore", flag.ContinueOnError)
	fs.StringVar(&cfg.DataDir, "data-dir", "", "a new or empty data directory to restore into")
	from := fs.String("from", "", "the backup directory")
	var tombs backup.Tombstones
	var sources []string
	fs.Func("tombstones", "where the tombstones of keys shredded since the backup are: the live data directory or its keyring, a newer backup, "+
		"or a tombstones file (repeatable); \"none\" to say there are none to show (what was destroyed after the backup then comes back)", func(v string) error {
		if v == "none" {
			tombs.None = true
			return nil
		}
		sources = append(sources, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *from == "" || cfg.DataDir == "" || fs.NArg() > 0 {
		return usageError{fmt.Errorf("--from DIR and --data-dir DIR are required")}
	}
	if tombs.None && len(sources) > 0 {
		return usageError{fmt.Errorf("--tombstones none cannot go with tombstones to show")}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	var lists [][]keys.Tombstone
	for _, src := range sources {
		ts, err := backup.LoadTombstones(src)
		if err != nil {
			return err
		}
		lists = append(lists, ts)
	}
	if len(sources) > 0 {
		tombs.List = backup.MergeTombstones(lists...)
	}
	if err := backup.Restore(context.Background(), *from, cfg.DataDir, os.Getenv("ENCLAVE_BACKUP_PASSPHRASE"), tombs); err != nil {
		return err
	}
	fmt.Printf("restored %s into %s (%d tombstones applied); start it with enclaved run --data-dir %s and check it with enclave audit verify\n",
		*from, cfg.DataDir, len(tombs.List), cfg.DataDir)
	return nil
}
