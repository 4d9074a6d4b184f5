package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/release"
)

// Issue 19: data products as services, subscriptions and credentials.
func init() {
	decide := func(verb, short string) *command {
		return &command{path: "service " + verb, args: "NAME", short: short, minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) { fs.String("comment", "", "a comment, recorded") },
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				sv, err := e.client.DecideService(ctx, args[0], verb, get(fs, "comment"))
				if err != nil {
					return err
				}
				return e.print(sv, func(tw *tabwriter.Writer) { serviceTable(tw, sv) })
			}}
	}
	decideSub := func(verb, short string) *command {
		return &command{path: "service " + verb + "-subscription", args: "ID", short: short, minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				sub, err := e.client.DecideSubscription(ctx, args[0], verb)
				if err != nil {
					return err
				}
				return e.print(sub, func(tw *tabwriter.Writer) { subscriptionTable(tw, []api.Subscription{sub}) })
			}}
	}
	register(
		&command{path: "service create", args: "NAME", short: "create a service over a dataset (custodian: your own; operator: under your grant); pending until officers of another organisation approve", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) {
				fs.String("mode", "verify", "verify, query or bulk")
				fs.String("export", "", "query or bulk: a released export of your organisation (bulk hands out its bundle and the later releases of the same product; query reads a table of it)")
				fs.String("file", "", "query over an export: the table (a .csv or Arrow file of the bundle; default its only file)")
				fs.String("columns", "", "query: the columns returned of a subject, comma-separated (personal information only desensitized)")
				fs.String("dataset", "", "verify or query: the dataset (its newest readable version)")
				fs.String("key", "", "the key column: kept or keyed pseudonym")
				fs.String("match", "", "columns whose claimed values a caller may verify, comma-separated (kept or keyed pseudonym)")
				fs.String("scenario", "", "the scenario the service serves (an operator's: its grant's)")
				fs.String("rate", "", "calls per subscription: N/m or N/s (default 600/m)")
				fs.Int("daily-misses", 0, "non-matching calls a subscription may make a day (enumeration guard; default 1000)")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				req := api.ServiceRequest{Name: args[0], Mode: get(fs, "mode"), Dataset: get(fs, "dataset"), Key: get(fs, "key"),
					Scenario: get(fs, "scenario"), Rate: get(fs, "rate"), Export: get(fs, "export"), File: get(fs, "file")}
				if m := get(fs, "match"); m != "" {
					req.Match = strings.Split(m, ",")
				}
				if c := get(fs, "columns"); c != "" {
					req.Columns = strings.Split(c, ",")
				}
				fmt.Sscan(get(fs, "daily-misses"), &req.DailyMisses)
				switch {
				case strings.TrimSpace(req.Scenario) == "":
					return usagef("--scenario is required")
				case (req.Dataset == "") == (req.Export == ""):
					return usagef("one of --dataset and --export is required")
				case req.Mode == "bulk" && req.Export == "":
					return usagef("a bulk service hands out a released export: --export is required")
				case req.Mode != "bulk" && req.Key == "":
					return usagef("--key is required")
				}
				sv, err := e.client.CreateService(ctx, req)
				if err != nil {
					return err
				}
				return e.print(sv, func(tw *tabwriter.Writer) { serviceTable(tw, sv) })
			}},
		&command{path: "service list", short: "every service and its state", maxArgs: 0,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				ss, err := e.client.ListServices(ctx)
				if err != nil {
					return err
				}
				return e.print(ss, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "NAME\tMODE\tDATASET\tKEY\tSCENARIO\tORG\tSTATE\tRUNNING\tAPPROVALS")
					for _, s := range ss {
						fmt.Fprintf(tw, "%s\t%s\t%s@%d\t%s\t%s\t%s\t%s\t%v\t%d/%d\n", s.Name, s.Mode, s.Dataset, s.Version, s.Key, clip(s.Scenario, 30),
							s.Org, s.State, s.Running, len(s.Approvers), s.Needed)
					}
				})
			}},
		&command{path: "service show", args: "NAME", short: "one service: definition, review, whether it runs", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) {
				fs.Bool("openapi", false, "print the service's generated OpenAPI document instead")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				if get(fs, "openapi") == "true" {
					return e.client.ServiceOpenAPI(ctx, args[0], os.Stdout)
				}
				sv, err := e.client.ShowService(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(sv, func(tw *tabwriter.Writer) { serviceTable(tw, sv) })
			}},
		decide("approve", "approve a service (officer of another organisation; two for general-3+ or authorization-required data)"),
		decide("reject", "reject a service (officer of another organisation)"),
		decide("stop", "stop a service for good (its organisation, the authority, the bureau)"),
		&command{path: "service subscribe", args: "NAME", short: "subscribe your organisation to a service for its scenario (consumer); pending until the authority approves", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) {
				fs.String("scenario", "", "the scenario (the service's)")
				fs.String("until", "", "last day of the subscription, YYYY-MM-DD")
				fs.Bool("public-interest", false, "claim public-interest use (public governance or welfare, 001 art. 23): once the authority approves, calls are charged at public-interest prices")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				if strings.TrimSpace(get(fs, "scenario")) == "" || get(fs, "until") == "" {
					return usagef("--scenario and --until are required")
				}
				sub, err := e.client.Subscribe(ctx, args[0], api.SubscribeRequest{Scenario: get(fs, "scenario"), Until: get(fs, "until"),
					PublicInterest: get(fs, "public-interest") == "true"})
				if err != nil {
					return err
				}
				return e.print(sub, func(tw *tabwriter.Writer) { subscriptionTable(tw, []api.Subscription{sub}) })
			}},
		&command{path: "service subscriptions", short: "subscriptions (consumer: your organisation's; authority, bureau: all)", maxArgs: 0,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				subs, err := e.client.ListSubscriptions(ctx)
				if err != nil {
					return err
				}
				return e.print(subs, func(tw *tabwriter.Writer) { subscriptionTable(tw, subs) })
			}},
		decideSub("approve", "approve a subscription (authority)"),
		decideSub("reject", "reject a subscription (authority)"),
		&command{path: "service call", args: "NAME", short: "call a service with a credential's token (ENCLAVE_TOKEN): verify prints match true or false, --query the subject's approved columns", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) {
				fs.String("key", "", "the subject's key (one), or several comma-separated for a batch of at most 100")
				fs.String("claim", "", "claimed values of match columns, COL=VALUE,... (one key only)")
				fs.Bool("query", false, "call a query service: print the subject's approved columns")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				key := get(fs, "key")
				if key == "" {
					return usagef("--key is required")
				}
				if get(fs, "query") == "true" {
					a, err := e.client.Query(ctx, args[0], key)
					if err != nil {
						return err
					}
					return e.print(a, func(tw *tabwriter.Writer) {
						fmt.Fprintf(tw, "found\t%v\n", a.Found)
						for i, r := range a.Rows {
							for c, v := range r {
								fmt.Fprintf(tw, "%d\t%s\t%s\n", i+1, c, v)
							}
						}
					})
				}
				keys := strings.Split(key, ",")
				if len(keys) > 1 {
					if get(fs, "claim") != "" {
						return usagef("--claim goes with one key only")
					}
					items := make([]api.VerifyItem, len(keys))
					for i, k := range keys {
						items[i].Key = k
					}
					ba, err := e.client.VerifyBatch(ctx, args[0], items)
					if err != nil {
						return err
					}
					return e.print(ba, func(tw *tabwriter.Writer) {
						fmt.Fprintln(tw, "#\tMATCH")
						for i, a := range ba.Results {
							fmt.Fprintf(tw, "%d\t%v\n", i+1, a.Match)
						}
					})
				}
				req := api.VerifyRequest{Key: key}
				if cl := get(fs, "claim"); cl != "" {
					req.Claims = map[string]string{}
					for _, kv := range strings.Split(cl, ",") {
						k, v, ok := strings.Cut(kv, "=")
						if !ok || k == "" {
							return usagef("--claim must be COL=VALUE,...")
						}
						req.Claims[k] = v
					}
				}
				a, err := e.client.Verify(ctx, args[0], req)
				if err != nil {
					return err
				}
				return e.print(a, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "match\t%v\n", a.Match)
					for c, ok := range a.Columns {
						fmt.Fprintf(tw, "%s\t%v\n", c, ok)
					}
				})
			}},
		&command{path: "service download", args: "NAME", short: "download the signed bundle of a bulk service's newest release with a credential (ENCLAVE_TOKEN or --client-cert); check it with release verify", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) { fs.String("o", "", "write the bundle to this file (must not exist)") },
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				return saveBundle(e, get(fs, "o"), func() (io.ReadCloser, error) { return e.client.BulkLatest(ctx, args[0]) })
			}},
		&command{path: "service verify-statement", args: "STATEMENT.json", short: "check a signed daily usage statement offline (its signature, as release verify does) and print it", minArgs: 1, maxArgs: 1, noDaemon: true,
			flags: func(fs *flag.FlagSet) {
				fs.String("key", "", "the enclave's public key: base64 as printed by `enclave keys public`, or a file holding it")
			},
			run: verifyStatement},
		&command{path: "service usage", args: "NAME", short: "calls of a service per subscription and day (consumer: your own; custodian: on your datasets; bureau: all)", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) { fs.String("day", "", "only this day, YYYY-MM-DD") },
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				us, err := e.client.ServiceUsage(ctx, args[0], get(fs, "day"))
				if err != nil {
					return err
				}
				return e.print(us, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "DAY\tSERVICE\tSUBSCRIPTION\tORG\tCALLS\tMATCHES\tMISSES\tREFUSED\tCLASS\tCHARGE")
					for _, u := range us {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%.2f\n", u.Day, u.Service, u.Subscription, u.Org, u.Calls, u.Matches, u.Misses, u.Refused, u.Class, u.Charge)
					}
				})
			}},
		&command{path: "service statement", args: "SUBSCRIPTION", short: "the signed usage statement of a subscription for one day (a DSSE envelope signed as releases are)", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) {
				fs.String("day", "", "the day, YYYY-MM-DD (required)")
				fs.String("o", "", "write it to this file instead of standard output")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				if get(fs, "day") == "" {
					return usagef("--day is required")
				}
				st, err := e.client.UsageStatement(ctx, args[0], get(fs, "day"))
				if err != nil {
					return err
				}
				data, _ := json.MarshalIndent(st, "", "  ")
				if out := get(fs, "o"); out != "" {
					if err := os.WriteFile(out, append(data, '\n'), 0o644); err != nil {
						return err
					}
					fmt.Fprintf(e.stderr, "wrote %s; check it offline with: enclave service verify-statement %s --key KEY\n", out, out)
					return nil
				}
				_, err = fmt.Println(string(data))
				return err
			}},
		&command{path: "credential issue", short: "issue a credential for an application system under an approved subscription (consumer); the token is printed once", maxArgs: 0,
			flags: func(fs *flag.FlagSet) {
				fs.String("subscription", "", "the subscription")
				fs.String("system", "", "the application system's name")
				fs.String("cert", "", "issue a client certificate instead of a token: write it to this file (a key is made here and never leaves; the TLS listener accepts the pair)")
				fs.String("cert-key", "", "with --cert: write the certificate's private key to this file (default: --cert's name with .key)")
			},
			run: issueCredential},
		&command{path: "credential list", short: "your organisation's credentials (consumer)", maxArgs: 0,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				cs, err := e.client.ListCredentials(ctx)
				if err != nil {
					return err
				}
				return e.print(cs, func(tw *tabwriter.Writer) { credentialTable(tw, cs) })
			}},
		&command{path: "credential revoke", args: "ID", short: "revoke a credential (consumer); it is refused at once", minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				cr, err := e.client.RevokeCredential(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(cr, func(tw *tabwriter.Writer) { credentialTable(tw, []api.Credential{cr}) })
			}},
	)
}

func serviceTable(tw *tabwriter.Writer, s api.Service) {
	fmt.Fprintf(tw, "service\t%s (%s)\ndataset\t%s@%d (%s, %s)\nkey\t%s\nmatch\t%s\nscenario\t%s\nrate\t%d/m, %d misses a day\norganisation\t%s\ngrant\t%s\nstate\t%s (%d of %d approvals)\n",
		s.Name, s.Mode, s.Dataset, s.Version, s.Level, s.Market, s.Key, dash(strings.Join(s.Match, ",")), s.Scenario, s.RatePerMin, s.DailyMisses,
		s.Org, dash(s.Grant), s.State, len(s.Approvers), s.Needed)
	if s.Export != "" {
		fmt.Fprintf(tw, "export\t%s %s\n", s.Export, dash(s.File))
	}
	fmt.Fprintf(tw, "running\t%v\n", s.Running)
	if s.Stopped != "" {
		fmt.Fprintf(tw, "stopped\t%s\n", s.Stopped)
	}
	fmt.Fprintf(tw, "created\t%s by %s\n", s.CreatedAt.Format(time.RFC3339), s.CreatedBy)
}

func subscriptionTable(tw *tabwriter.Writer, subs []api.Subscription) {
	fmt.Fprintln(tw, "ID\tSERVICE\tORG\tSCENARIO\tPUBLIC INTEREST\tUNTIL\tSTATE\tDECIDED BY")
	for _, s := range subs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%s\t%s\n", s.ID, s.Service, s.Org, clip(s.Scenario, 30), s.PublicInterest, s.Until, s.State, dash(s.DecidedBy))
	}
}

func credentialTable(tw *tabwriter.Writer, cs []api.Credential) {
	fmt.Fprintln(tw, "ID\tSUBSCRIPTION\tSERVICE\tSYSTEM\tUNTIL\tREVOKED")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", c.ID, c.Subscription, c.Service, c.System, c.Until, c.Revoked)
	}
}

// issueCredential issues a token, or with --cert a client certificate for
// a key made here: the key is written (mode 0600) before the request goes,
// and only a certificate request leaves.
func issueCredential(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	if get(fs, "subscription") == "" || get(fs, "system") == "" {
		return usagef("--subscription and --system are required")
	}
	req := api.CredentialRequest{Subscription: get(fs, "subscription"), System: get(fs, "system")}
	certOut, keyOut := get(fs, "cert"), get(fs, "cert-key")
	if certOut == "" && keyOut != "" {
		return usagef("--cert-key goes with --cert")
	}
	if certOut != "" {
		if keyOut == "" {
			keyOut = strings.TrimSuffix(certOut, filepath.Ext(certOut)) + ".key"
		}
		if keyOut == certOut {
			return usagef("--cert and --cert-key must be different files")
		}
		csr, err := newKeyAndCSR(keyOut, req.System)
		if err != nil {
			return err
		}
		req.CSR = string(csr)
	}
	cr, err := e.client.IssueCredential(ctx, req)
	if err != nil {
		if certOut != "" {
			os.Remove(keyOut)
		}
		return err
	}
	if certOut != "" {
		if err := os.WriteFile(certOut, []byte(cr.Certificate), 0o644); err != nil {
			return fmt.Errorf("write the certificate: %w", err)
		}
		cr.Certificate = ""
		fmt.Fprintf(e.stderr, "wrote %s and its key %s; call with --client-cert %s --client-key %s on the https address\n", certOut, keyOut, certOut, keyOut)
	}
	return e.print(cr, func(tw *tabwriter.Writer) {
		credentialTable(tw, []api.Credential{cr})
		if cr.Token != "" {
			fmt.Fprintf(tw, "token (shown once)\t%s\n", cr.Token)
		}
	})
}

// newKeyAndCSR makes an ECDSA P-256 key, writes it to keyOut (a new file,
// mode 0600) and returns a PEM certificate request for it.
func newKeyAndCSR(keyOut, system string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: system}}, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(keyOut, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create the key file %q: %w", keyOut, err)
	}
	_, err = f.Write(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(keyOut)
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// verifyStatement checks a signed daily usage statement offline with the
// enclave's public key, as release verify checks a bundle, and prints
// what it states.
func verifyStatement(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	pub, err := publicKeyArg(get(fs, "key"))
	if err != nil {
		return err
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return fmt.Errorf("read the statement: %w", err)
	}
	env, err := release.ParseEnvelope(data)
	if err != nil {
		return err
	}
	st, err := release.OpenUsageStatement(env, pub)
	if err != nil {
		return err
	}
	return e.print(st, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "VERIFIED\tsignature by key %s…\n", release.KeyID(pub)[:16])
		fmt.Fprintf(tw, "subscription\t%s (service %s, organisation %s)\nday\t%s\ncalls\t%d (%d matched, %d missed), %d refused\ncharge\t%.2f %s (%s prices)\nmade\t%s\n",
			st.Subscription, st.Service, st.Org, st.Day, st.Calls, st.Matches, st.Misses, st.Refused, st.Charge, st.Currency, dash(st.Class), st.MadeAt.Format(time.RFC3339))
	})
}
