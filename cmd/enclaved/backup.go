package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/enclave-dev/enclave/enclave/backup"
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
	fmt.Printf("backed up %s to %s: %d files, keyring sealed under the passphrase (ENCLAVE_BACKUP_PASSPHRASE)\n", cfg.DataDir, *to, len(m.Files))
	return nil
}

func runRestore(args []string) error {
	cfg := Default()
	fs := flag.NewFlagSet("enclaved restore", flag.ContinueOnError)
	fs.StringVar(&cfg.DataDir, "data-dir", "", "a new or empty data directory to restore into")
	from := fs.String("from", "", "the backup directory")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *from == "" || cfg.DataDir == "" || fs.NArg() > 0 {
		return usageError{fmt.Errorf("--from DIR and --data-dir DIR are required")}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := backup.Restore(context.Background(), *from, cfg.DataDir, os.Getenv("ENCLAVE_BACKUP_PASSPHRASE")); err != nil {
		return err
	}
	fmt.Printf("restored %s into %s; start it with enclaved run --data-dir %s and check it with enclave audit verify\n", *from, cfg.DataDir, cfg.DataDir)
	return nil
}
