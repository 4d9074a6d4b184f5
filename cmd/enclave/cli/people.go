package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/enclave-dev/enclave/enclave/api"
)

func init() {
	register(
		&command{path: "whoami", short: "show who the token belongs to", maxArgs: 0,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				w, err := e.client.Whoami(ctx)
				if err != nil {
					return err
				}
				return e.print(w, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "person\t%s (%s)\n", w.Person.Name, w.Person.ID)
					fmt.Fprintf(tw, "organisation\t%s (%s, %s)\n", w.Org.Name, w.Org.Type, w.Org.Status)
					fmt.Fprintf(tw, "roles\t%s\n", joinRoles(w.Person.Roles))
					fmt.Fprintf(tw, "agreement\t%s\n", agreementTerm(w.Person))
					fmt.Fprintf(tw, "token\t%s\n", w.TokenID)
				})
			}},
		&command{path: "org add", args: "NAME", short: "license an organisation on its application (authority)", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) {
				fs.String("type", "", "company, university, research-institute or agency")
				fs.String("uscc", "", "unified social credit code, 18 characters (GB 32100)")
				fs.String("licence-from", "", "first day of the licence, YYYY-MM-DD (default today)")
				fs.String("licence-until", "", "last day of the licence, YYYY-MM-DD (at most 2 years on)")
				fs.String("business-scope", "", "the business the licence is for (001 art. 11)")
				fs.String("security-lead", "", "name of the person responsible for data security")
				fs.String("principal", "", "name of the principal responsible person (001 art. 14)")
				fs.String("data-disposal", "", "what happens to the data when the licence ends")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				req := api.OrgRequest{Name: args[0], Type: get(fs, "type"), USCC: get(fs, "uscc"), LicenceFrom: get(fs, "licence-from"),
					LicenceUntil: get(fs, "licence-until"), BusinessScope: get(fs, "business-scope"), SecurityLead: get(fs, "security-lead"),
					Principal: get(fs, "principal"), DataDisposal: get(fs, "data-disposal")}
				if req.Type == "" || req.USCC == "" || req.LicenceUntil == "" || req.BusinessScope == "" || req.SecurityLead == "" ||
					req.Principal == "" || req.DataDisposal == "" {
					return usagef("--type, --uscc, --licence-until, --business-scope, --security-lead, --principal and --data-disposal are required")
				}
				o, err := e.client.AddOrg(ctx, req)
				if err != nil {
					return err
				}
				return e.print(o, func(tw *tabwriter.Writer) { orgDetail(tw, o) })
			}},
		&command{path: "org show", args: "NAME", short: "show an organisation, its licence application and the terms of its licence", minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				o, err := e.client.ShowOrg(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(o, func(tw *tabwriter.Writer) { orgDetail(tw, o) })
			}},
		&command{path: "org renew", args: "NAME", short: "renew a licence in its last three months, for at most 2 years (authority)", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) {
				fs.String("licence-until", "", "last day of the new term, YYYY-MM-DD (it starts the day after the current licence ends)")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				if get(fs, "licence-until") == "" {
					return usagef("--licence-until is required")
				}
				o, err := e.client.RenewOrg(ctx, args[0], get(fs, "licence-until"))
				if err != nil {
					return err
				}
				return e.print(o, func(tw *tabwriter.Writer) { orgDetail(tw, o) })
			}},
		&command{path: "org list", short: "list organisations", maxArgs: 0,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				os, err := e.client.ListOrgs(ctx)
				if err != nil {
					return err
				}
				return e.print(os, func(tw *tabwriter.Writer) { orgTable(tw, os) })
			}},
		orgStatusCommand("suspend"), orgStatusCommand("reinstate"), orgStatusCommand("blacklist"), orgStatusCommand("revoke"),
		&command{path: "person add", args: "NAME", short: "register a person; prints their token once (admin)", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) {
				fs.String("org", "", "the person's organisation")
				fs.String("role", "", "roles, comma-separated: admin, authority, custodian, operator, officer, bureau")
				fs.String("id-number", "", "resident ID number, required (validated; stored only as a keyed hash and a masked form)")
				fs.String("agreement-from", "", "first day of the person's confidentiality agreement, YYYY-MM-DD (default today)")
				fs.String("agreement-until", "", "last day of the agreement, YYYY-MM-DD (required for every role but admin)")
				fs.String("agreement-liability", "", "the liability for breach the person accepted: its text or a reference to the signed agreement")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				req := api.PersonRequest{Name: args[0], Org: get(fs, "org"), Roles: splitList(get(fs, "role")),
					IDNumber: get(fs, "id-number"), AgreementFrom: get(fs, "agreement-from"), AgreementUntil: get(fs, "agreement-until"),
					AgreementLiability: get(fs, "agreement-liability")}
				if req.Org == "" || len(req.Roles) == 0 || req.IDNumber == "" {
					return usagef("--org, --role and --id-number are required")
				}
				p, err := e.client.AddPerson(ctx, req)
				if err != nil {
					return err
				}
				return e.print(p, func(tw *tabwriter.Writer) {
					peopleTable(tw, []api.Person{p.Person})
					fmt.Fprintf(tw, "\ntoken (shown once)\t%s\n", p.Token)
				})
			}},
		&command{path: "person list", short: "list people", maxArgs: 0,
			flags: func(fs *flag.FlagSet) { fs.String("org", "", "only people of this organisation") },
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				ps, err := e.client.ListPeople(ctx, get(fs, "org"))
				if err != nil {
					return err
				}
				return e.print(ps, func(tw *tabwriter.Writer) { peopleTable(tw, ps) })
			}},
		&command{path: "person agreement", args: "PERSON-ID", short: "record a renewed confidentiality agreement (admin)", minArgs: 1, maxArgs: 1,
			flags: func(fs *flag.FlagSet) {
				fs.String("from", "", "first day of the agreement, YYYY-MM-DD (default today)")
				fs.String("until", "", "last day of the agreement, YYYY-MM-DD")
				fs.String("liability", "", "the liability for breach the person accepted: its text or a reference to the signed agreement")
			},
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				if get(fs, "until") == "" || get(fs, "liability") == "" {
					return usagef("--until and --liability are required")
				}
				p, err := e.client.RenewAgreement(ctx, args[0], api.AgreementRequest{From: get(fs, "from"), Until: get(fs, "until"), Liability: get(fs, "liability")})
				if err != nil {
					return err
				}
				return e.print(p, func(tw *tabwriter.Writer) { peopleTable(tw, []api.Person{p}) })
			}},
		&command{path: "token issue", args: "PERSON-ID", short: "issue a new token for a person; printed once (admin)", minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				t, err := e.client.IssueToken(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(t, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "token id\t%s\nexpires\t%s\ntoken (shown once)\t%s\n", t.ID, t.ExpiresAt.Format("2006-01-02 15:04"), t.Token)
				})
			}},
		&command{path: "token list", args: "PERSON-ID", short: "list a person's tokens (ids and dates only)", minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				ts, err := e.client.ListTokens(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(ts, func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "ID\tCREATED\tEXPIRES\tREVOKED")
					for _, t := range ts {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.CreatedAt.Format("2006-01-02 15:04"), t.ExpiresAt.Format("2006-01-02"), dash(t.RevokedAt))
					}
				})
			}},
		&command{path: "token revoke", args: "TOKEN-ID", short: "revoke a token (admin)", minArgs: 1, maxArgs: 1,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				t, err := e.client.RevokeToken(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(t, func(tw *tabwriter.Writer) { fmt.Fprintf(tw, "revoked\t%s\t%s\n", t.ID, t.RevokedAt) })
			}},
		&command{path: "keys public", short: "print the enclave's signing public key", maxArgs: 0,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				k, err := e.client.PublicKey(ctx)
				if err != nil {
					return err
				}
				return e.print(k, func(tw *tabwriter.Writer) { fmt.Fprintf(tw, "%s\t%s\t(%s keyring)\n", k.Algorithm, k.Key, k.Keyring) })
			}},
		&command{path: "version", short: "show the daemon's version", maxArgs: 0,
			run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
				v, err := e.client.Version(ctx)
				if err != nil {
					return err
				}
				return e.print(v, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "daemon\t%s\napi\t%s\nschema\t%d\n", v.Version, v.API, v.Schema)
				})
			}},
	)
}

func orgStatusCommand(verb string) *command {
	return &command{path: "org " + verb, args: "NAME", short: verb + " an organisation, with a reason (authority)", minArgs: 1, maxArgs: 1,
		flags: func(fs *flag.FlagSet) { fs.String("reason", "", "why (required, recorded)") },
		run: func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
			if strings.TrimSpace(get(fs, "reason")) == "" {
				return usagef("--reason is required")
			}
			o, err := e.client.SetOrgStatus(ctx, args[0], verb, get(fs, "reason"))
			if err != nil {
				return err
			}
			return e.print(o, func(tw *tabwriter.Writer) { orgTable(tw, []api.Org{o}) })
		}}
}

func get(fs *flag.FlagSet, name string) string {
	f := fs.Lookup(name)
	if f == nil {
		return ""
	}
	return f.Value.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinRoles(rs []string) string { return strings.Join(rs, ",") }

func orgTable(tw *tabwriter.Writer, os []api.Org) {
	fmt.Fprintln(tw, "NAME\tTYPE\tUSCC\tLICENCE\tSTATUS\tREASON\tSECURITY LEAD\tPRINCIPAL")
	for _, o := range os {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s..%s\t%s\t%s\t%s\t%s\n", o.Name, o.Type, dash(o.USCC), o.LicenceFrom, o.LicenceUntil, o.Status,
			o.StatusReason, dash(o.SecurityLead), dash(o.Principal))
	}
}

// orgDetail shows one organisation: its identity, its licence
// application (001 art. 11) and the terms of its licence.
func orgDetail(tw *tabwriter.Writer, o api.Org) {
	fmt.Fprintf(tw, "name\t%s\ntype\t%s\nuscc\t%s\n", o.Name, o.Type, dash(o.USCC))
	fmt.Fprintf(tw, "licence\t%s..%s\nstatus\t%s (%s, since %s)\n", o.LicenceFrom, o.LicenceUntil, o.Status, o.StatusReason,
		o.StatusAt.Format("2006-01-02 15:04"))
	fmt.Fprintf(tw, "business scope\t%s\nsecurity lead\t%s\nprincipal\t%s\ndata disposal at expiry\t%s\n",
		dash(o.BusinessScope), dash(o.SecurityLead), dash(o.Principal), dash(o.DataDisposal))
	for _, t := range o.Licences {
		fmt.Fprintf(tw, "term (%s)\t%s..%s, recorded %s\n", t.Kind, t.From, t.Until, t.RecordedAt.Format("2006-01-02"))
	}
}

// agreementTerm shows a person's confidentiality agreement as its term.
func agreementTerm(p api.Person) string {
	switch {
	case p.AgreementUntil == "":
		return "-"
	case p.AgreementFrom == "":
		return "..." + p.AgreementUntil
	}
	return p.AgreementFrom + ".." + p.AgreementUntil
}

func peopleTable(tw *tabwriter.Writer, ps []api.Person) {
	fmt.Fprintln(tw, "ID\tNAME\tORG\tROLES\tID NUMBER\tAGREEMENT")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Name, p.Org, joinRoles(p.Roles), dash(p.IDNumberMasked), agreementTerm(p))
	}
}
