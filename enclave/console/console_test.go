package console

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/audit"
	"github.com/enclave-dev/enclave/enclave/people"
	"github.com/enclave-dev/enclave/enclave/store"
)

// fakeAudit is a hand-written Auditor that keeps what it is given.
type fakeAudit struct {
	mu  sync.Mutex
	evs []audit.Event
	err error
}

func (a *fakeAudit) Append(ctx context.Context, ev audit.Event) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return 0, a.err
	}
	a.evs = append(a.evs, ev)
	return uint64(len(a.evs)), nil
}

func (a *fakeAudit) events() []audit.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]audit.Event(nil), a.evs...)
}

var _ Auditor = (*fakeAudit)(nil)

type dbtx = *sql.Tx

type fixture struct {
	t     testing.TB
	c     *Console
	db    *store.DB
	audit *fakeAudit
	token string
	mu    sync.Mutex
	now   time.Time
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// newFixture makes a database with one officer and their token.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{t: t, db: db, audit: &fakeAudit{}, now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	o := people.Org{Name: "security", Type: people.Agency, LicenceFrom: "2026-01-01", LicenceUntil: "2027-12-31", Status: people.Active, StatusReason: "test", CreatedAt: f.now, UpdatedAt: f.now}
	p := people.Person{ID: "p_officer", Name: "Chen Jing", Org: "security", Roles: []people.Role{people.Officer}, IDNumberMasked: "990***********0035",
		Agreement: people.Agreement{AgreementFrom: "2026-01-01", AgreementUntil: "2027-12-31", AgreementLiability: "NDA-TEST"}, CreatedAt: f.now, CreatedBy: "system"}
	tok, hash, _ := people.NewToken()
	if err := db.Tx(ctx, func(tx dbtx) error {
		if err := people.CreateOrg(ctx, tx, o); err != nil {
			return err
		}
		if err := people.CreatePerson(ctx, tx, p, "test-hash"); err != nil {
			return err
		}
		return people.CreateToken(ctx, tx, people.Token{ID: "t_officer", Person: p.ID, CreatedAt: f.now, ExpiresAt: f.now.Add(30 * 24 * time.Hour)}, hash)
	}, nil); err != nil {
		t.Fatal(err)
	}
	f.token = tok
	f.c = New(db.SQL(), Options{Audit: f.audit, Now: f.clock})
	return f
}

// signIn posts a form to the session endpoint and returns the response.
func (f *fixture) signIn(token string, edit func(r *http.Request)) *httptest.ResponseRecorder {
	body := url.Values{"token": {token}}.Encode()
	r := httptest.NewRequest("POST", "https://enclave.test/console/session", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "https://enclave.test")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	if edit != nil {
		edit(r)
	}
	w := httptest.NewRecorder()
	f.c.ServeHTTP(w, r)
	return w
}

// session signs in and returns the cookie and the CSRF token.
func (f *fixture) session() (*http.Cookie, string) {
	f.t.Helper()
	w := f.signIn(f.token, nil)
	if w.Code != 200 {
		f.t.Fatalf("sign in: got %d %s, want 200", w.Code, w.Body)
	}
	var info SessionInfo
	if err := json.Unmarshal(w.Body.Bytes(), &info); err != nil {
		f.t.Fatal(err)
	}
	cks := w.Result().Cookies()
	if len(cks) != 1 {
		f.t.Fatalf("sign in: got %d cookies, want 1", len(cks))
	}
	return cks[0], info.CSRFToken
}

func TestPagesCarryStrictHeaders(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name, method, path string
		code               int
		ctype              string
	}{
		{"index", "GET", "/console/", 200, "text/html"},
		{"script", "GET", "/console/app.js", 200, "javascript"},
		{"services script", "GET", "/console/services.js", 200, "javascript"},
		{"style", "GET", "/console/app.css", 200, "text/css"},
		{"head", "HEAD", "/console/index.html", 200, "text/html"},
		{"unknown", "GET", "/console/nope.js", 404, "application/json"},
		{"hidden", "GET", "/console/.app.js", 404, "application/json"},
		{"dir escape", "GET", "/console/x/../app.js", 404, "application/json"},
		{"nested", "GET", "/console/assets/app.js", 404, "application/json"},
		{"post page", "POST", "/console/", 405, "application/json"},
		{"put session", "PUT", "/console/session", 405, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "https://enclave.test"+tc.path, nil)
			r.URL.Path = tc.path // keep dot segments as a raw client could send them
			w := httptest.NewRecorder()
			f.c.ServeHTTP(w, r)
			if w.Code != tc.code {
				t.Fatalf("got %d, want %d", w.Code, tc.code)
			}
			if got := w.Header().Get("Content-Type"); !strings.Contains(got, tc.ctype) {
				t.Errorf("content type: got %q, want %q", got, tc.ctype)
			}
			if got := w.Header().Get("Content-Security-Policy"); got != ContentSecurityPolicy {
				t.Errorf("CSP: got %q, want %q", got, ContentSecurityPolicy)
			}
			for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
				if got := w.Header().Get(h); got != want {
					t.Errorf("%s: got %q, want %q", h, got, want)
				}
			}
		})
	}
	r := httptest.NewRequest("GET", "https://enclave.test/console", nil)
	w := httptest.NewRecorder()
	f.c.ServeHTTP(w, r)
	if w.Code != 301 || w.Header().Get("Location") != "/console/" {
		t.Fatalf("bare prefix: got %d %q, want 301 to /console/", w.Code, w.Header().Get("Location"))
	}
}

// vendored are the embedded libraries of others, by sha256 (issue 21:
// Chart.js 3.9.1 from Debian's libjs-chart.js; licence in
// assets/chart.LICENSE.txt).
var licenceComment = regexp.MustCompile(`(?s)/\*!.*?\*/`)

var vendored = map[string]string{
	"assets/chart.min.js": "fbc45926e6b46845a0f905552a0e0b1331049bff1115ecf94dbe0904d895e710",
}

// TestAssetsAreSelfContained reads every embedded file: no inline script or
// style, no event-handler attributes, no outside origin, no HTML parsing of
// server text.
func TestAssetsAreSelfContained(t *testing.T) {
	bad := []struct {
		name string
		re   *regexp.Regexp
	}{
		{"inline script", regexp.MustCompile(`<script(\s[^>]*)?>\s*[^<\s]`)},
		{"script without src", regexp.MustCompile(`<script(?:\s(?:[^s>]|s[^r>])*)?>`)},
		{"style element", regexp.MustCompile(`<style`)},
		{"style attribute", regexp.MustCompile(`\sstyle\s*=`)},
		{"style via setAttribute", regexp.MustCompile(`['"]style['"]\s*:`)},
		{"event attribute", regexp.MustCompile(`\son[a-z]+\s*=`)},
		{"outside origin", regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)},
		{"html parsing", regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function`)},
		{"token in storage", regexp.MustCompile(`localStorage|sessionStorage|document\.cookie`)},
	}
	n := 0
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		data, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		if want, ok := vendored[p]; ok {
			// A vendored library is the file its packager shipped, byte
			// for byte; only its licence comments (/*! ... */) name an
			// origin, and they are read out before the scan.
			if got := fmt.Sprintf("%x", sha256.Sum256(data)); got != want {
				t.Errorf("%s: sha256 %s, want the vendored %s", p, got, want)
			}
			data = licenceComment.ReplaceAll(data, nil)
		}
		for _, b := range bad {
			if loc := b.re.FindIndex(data); loc != nil {
				t.Errorf("%s: %s at byte %d: %q", p, b.name, loc[0], data[loc[0]:min(loc[1]+20, len(data))])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 6 {
		t.Fatalf("got %d embedded files, want 6", n)
	}
}

func TestSignIn(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name  string
		token string
		edit  func(r *http.Request)
		code  int
	}{
		{"valid", f.token, nil, 200},
		{"unknown token", "enc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", nil, 401},
		{"malformed token", "nope", nil, 401},
		{"empty token", "", nil, 401},
		{"token in the URL", f.token, func(r *http.Request) { r.URL.RawQuery = "token=" + url.QueryEscape(f.token) }, 400},
		{"json body", f.token, func(r *http.Request) { r.Header.Set("Content-Type", "application/json") }, 415},
		{"cross-site fetch", f.token, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }, 403},
		{"same-site other origin", f.token, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site") }, 403},
		{"foreign origin", f.token, func(r *http.Request) { r.Header.Set("Origin", "https://evil.test") }, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.c.Sessions()
			w := f.signIn(tc.token, tc.edit)
			if w.Code != tc.code {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, tc.code)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("cache control: got %q, want no-store", w.Header().Get("Cache-Control"))
			}
			if f.token != "" && strings.Contains(w.Body.String(), f.token) {
				t.Fatal("the answer carries the token")
			}
			cks := w.Result().Cookies()
			if tc.code != 200 {
				if len(cks) != 0 || f.c.Sessions() != before {
					t.Fatalf("refused sign-in: got %d cookies and %d sessions, want none new", len(cks), f.c.Sessions()-before)
				}
				return
			}
			if len(cks) != 1 {
				t.Fatalf("got %d cookies, want 1", len(cks))
			}
			ck := cks[0]
			if ck.Name != CookieName || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Domain != "" {
				t.Fatalf("cookie: got %+v, want __Host- HttpOnly Secure SameSite=Strict Path=/", ck)
			}
			if len(ck.Value) != 43 || ck.Value == f.token {
				t.Fatalf("cookie value: got %d characters, want 43 (256 random bits)", len(ck.Value))
			}
			var info SessionInfo
			json.Unmarshal(w.Body.Bytes(), &info)
			if info.Person != "p_officer" || info.Org != "security" || len(info.CSRFToken) != 43 || info.CSRFToken == ck.Value {
				t.Fatalf("session info: got %+v, want the officer and a separate CSRF token", info)
			}
			if !info.ExpiresAt.Equal(f.now.Add(8 * time.Hour)) {
				t.Fatalf("expires: got %v, want 8 hours after sign-in", info.ExpiresAt)
			}
		})
	}
	var ok, denied int
	for _, ev := range f.audit.events() {
		if ev.Action != "console.signin" {
			t.Errorf("audit action: got %q, want console.signin", ev.Action)
		}
		for _, o := range ev.Objects {
			if strings.Contains(o, f.token) {
				t.Fatal("an audit event carries the token")
			}
		}
		switch ev.Outcome {
		case audit.OutcomeOK:
			ok++
		case audit.OutcomeDenied:
			denied++
		}
	}
	if ok != 1 || denied != 3 {
		t.Fatalf("audit: got %d ok and %d denied sign-ins, want 1 and 3", ok, denied)
	}
}

func TestSignInFailsClosedWhenAuditFails(t *testing.T) {
	f := newFixture(t)
	f.audit.err = context.DeadlineExceeded
	w := f.signIn(f.token, nil)
	if w.Code != 500 || len(w.Result().Cookies()) != 0 || f.c.Sessions() != 0 {
		t.Fatalf("got %d with %d cookies and %d sessions, want 500 and nothing", w.Code, len(w.Result().Cookies()), f.c.Sessions())
	}
}

func TestVouch(t *testing.T) {
	f := newFixture(t)
	ck, csrf := f.session()
	_, other := f.session()
	for _, tc := range []struct {
		name   string
		method string
		cookie *http.Cookie
		csrf   string
		auth   string
		want   string // the Authorization header after Vouch
	}{
		{"read with cookie", "GET", ck, "", "", "Bearer " + f.token},
		{"head with cookie", "HEAD", ck, "", "", "Bearer " + f.token},
		{"change with CSRF", "POST", ck, csrf, "", "Bearer " + f.token},
		{"delete with CSRF", "DELETE", ck, csrf, "", "Bearer " + f.token},
		{"change without CSRF", "POST", ck, "", "", ""},
		{"change with a wrong CSRF", "POST", ck, csrf[:42] + "x", "", ""},
		{"change with another session's CSRF", "POST", ck, other, "", ""},
		{"no cookie", "GET", nil, csrf, "", ""},
		{"unknown cookie", "GET", &http.Cookie{Name: CookieName, Value: strings.Repeat("A", 43)}, "", "", ""},
		{"cookie under another name", "GET", &http.Cookie{Name: "enclave-session", Value: ck.Value}, "", "", ""},
		{"bearer wins", "POST", ck, "", "Bearer enc_other", "Bearer enc_other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "https://enclave.test/v1/whoami", nil)
			if tc.cookie != nil {
				r.AddCookie(tc.cookie)
			}
			if tc.csrf != "" {
				r.Header.Set(CSRFHeader, tc.csrf)
			}
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			got := f.c.Vouch(r)
			if h := got.Header.Get("Authorization"); h != tc.want {
				t.Fatalf("got Authorization %q, want %q", redact(h, f.token), redact(tc.want, f.token))
			}
			if got != r && r.Header.Get("Authorization") != tc.auth {
				t.Fatal("Vouch modified the caller's request")
			}
		})
	}
}

func redact(s, token string) string { return strings.ReplaceAll(s, token, "<token>") }

func TestSessionsExpire(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []time.Duration // each step advances the clock, then uses the session
		alive bool
	}{
		{"used within the idle time", []time.Duration{29 * time.Minute}, true},
		{"idle 30 minutes", []time.Duration{30 * time.Minute}, false},
		{"kept busy for 7h50m", repeat(47, 10*time.Minute), true},
		{"kept busy for 8 hours", repeat(48, 10*time.Minute), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ck, _ := f.session()
			var alive bool
			for _, d := range tc.steps {
				f.advance(d)
				r := httptest.NewRequest("GET", "https://enclave.test/v1/whoami", nil)
				r.AddCookie(ck)
				alive = f.c.Vouch(r).Header.Get("Authorization") != ""
			}
			if alive != tc.alive {
				t.Fatalf("got alive %v, want %v", alive, tc.alive)
			}
			if !alive && f.c.Sessions() != 0 {
				t.Fatalf("an expired session is still held")
			}
		})
	}
}

func repeat(n int, d time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestCurrentAndSignOut(t *testing.T) {
	f := newFixture(t)
	ck, csrf := f.session()
	do := func(method, csrf string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "https://enclave.test/console/session", nil)
		r.AddCookie(ck)
		if csrf != "" {
			r.Header.Set(CSRFHeader, csrf)
		}
		w := httptest.NewRecorder()
		f.c.ServeHTTP(w, r)
		return w
	}
	w := do("GET", "")
	var info SessionInfo
	json.Unmarshal(w.Body.Bytes(), &info)
	if w.Code != 200 || info.CSRFToken != csrf {
		t.Fatalf("current: got %d and a CSRF token that matches: %v, want 200 and true", w.Code, info.CSRFToken == csrf)
	}
	if w := do("DELETE", ""); w.Code != 401 || f.c.Sessions() != 1 {
		t.Fatalf("sign-out without CSRF: got %d with %d sessions, want 401 and the session kept", w.Code, f.c.Sessions())
	}
	w = do("DELETE", csrf)
	if w.Code != 204 || f.c.Sessions() != 0 {
		t.Fatalf("sign-out: got %d with %d sessions, want 204 and none", w.Code, f.c.Sessions())
	}
	if cks := w.Result().Cookies(); len(cks) != 1 || cks[0].MaxAge >= 0 {
		t.Fatalf("sign-out cookie: got %+v, want one that deletes the cookie", cks)
	}
	if w := do("GET", ""); w.Code != 401 {
		t.Fatalf("after sign-out: got %d, want 401", w.Code)
	}
	evs := f.audit.events()
	if last := evs[len(evs)-1]; last.Action != "console.signout" || last.Actor != "p_officer" {
		t.Fatalf("audit: got %+v, want a sign-out by the officer", last)
	}
}

func TestSessionCap(t *testing.T) {
	f := newFixture(t)
	f.c = New(f.db.SQL(), Options{Now: f.clock, MaxSessions: 2})
	f.session()
	f.session()
	if w := f.signIn(f.token, nil); w.Code != 503 {
		t.Fatalf("third session: got %d, want 503", w.Code)
	}
	f.advance(31 * time.Minute)
	if w := f.signIn(f.token, nil); w.Code != 200 || f.c.Sessions() != 1 {
		t.Fatalf("after expiry: got %d with %d sessions, want 200 and 1", w.Code, f.c.Sessions())
	}
}

// FuzzVouch: no cookie value or CSRF header an attacker can send is
// vouched for, and none makes Vouch fail.
func FuzzVouch(f *testing.F) {
	f.Add("AAAA", "", "POST")
	f.Add(strings.Repeat("A", 43), strings.Repeat("B", 43), "GET")
	f.Add("", "x", "DELETE")
	fx := newFixture(f)
	fx.session()
	f.Fuzz(func(t *testing.T, cookie, csrf, method string) {
		r := httptest.NewRequest("GET", "https://enclave.test/v1/whoami", nil)
		r.Method = method
		r.Header.Set("Cookie", CookieName+"="+cookie)
		r.Header.Set(CSRFHeader, csrf)
		if h := fx.c.Vouch(r).Header.Get("Authorization"); h != "" {
			t.Fatalf("a guessed cookie %q was vouched for", cookie)
		}
	})
}

// FuzzSignIn: no form body opens a session unless it carries the token.
func FuzzSignIn(f *testing.F) {
	f.Add("token=enc_AAAA", "application/x-www-form-urlencoded")
	f.Add("token=%zz&token=x", "application/x-www-form-urlencoded; charset=utf-8")
	f.Add(strings.Repeat("a=b&", 2000), "application/x-www-form-urlencoded")
	f.Add(`{"token":"x"}`, "application/json")
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, body, ctype string) {
		r := httptest.NewRequest("POST", "https://enclave.test/console/session", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		w := httptest.NewRecorder()
		fx.c.ServeHTTP(w, r)
		if w.Code == 200 && !strings.Contains(body, fx.token) {
			t.Fatalf("a body without the token opened a session")
		}
		if w.Code == 500 {
			t.Fatalf("got 500 for an outside body")
		}
	})
}
