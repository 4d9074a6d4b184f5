// Package client talks to enclaved's HTTP API over its unix socket or over
// HTTPS. It is the only way the CLI reaches the daemon. Errors from the
// daemon come back as *Error values that unwrap to errdefs classes.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
)

// Client is a connection to one daemon. It is safe for concurrent use.
type Client struct {
	base  string
	http  *http.Client
	token string
}

// Option configures a Client.
type Option func(*options)

type options struct {
	caPEM   []byte
	timeout time.Duration
	cert    *tls.Certificate
}

// WithCACert trusts the PEM certificates in pem for an https address
// (the daemon's self-generated certificate, for example).
func WithCACert(pem []byte) Option { return func(o *options) { o.caPEM = pem } }

// WithClientCert presents the client certificate and key (PEM) on an
// https address: an application system's certificate credential, issued
// by `enclave credential issue --cert`, in place of a token.
func WithClientCert(certPEM, keyPEM []byte) Option {
	return func(o *options) {
		if pair, err := tls.X509KeyPair(certPEM, keyPEM); err == nil {
			o.cert = &pair
		} else {
			o.cert = &tls.Certificate{} // New refuses it
		}
	}
}

// WithTimeout bounds each request; zero means no bound.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// New returns a client for addr, which is either a unix socket path or an
// https URL, acting with token.
func New(addr, token string, opts ...Option) (*Client, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	c := &Client{token: token}
	switch {
	case strings.HasPrefix(addr, "https://"):
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("address %q is not a valid https URL: %w", addr, errdefs.ErrInvalidArgument)
		}
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.caPEM != nil {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(o.caPEM) {
				return nil, fmt.Errorf("CA certificate file holds no PEM certificate: %w", errdefs.ErrInvalidArgument)
			}
			cfg.RootCAs = pool
		}
		if o.cert != nil {
			if len(o.cert.Certificate) == 0 {
				return nil, fmt.Errorf("client certificate and key are not a matching PEM pair: %w", errdefs.ErrInvalidArgument)
			}
			cfg.Certificates = []tls.Certificate{*o.cert}
		}
		c.base = strings.TrimSuffix(u.String(), "/")
		c.http = &http.Client{Timeout: o.timeout, Transport: &http.Transport{TLSClientConfig: cfg, Proxy: nil}}
	case o.cert != nil:
		return nil, fmt.Errorf("a client certificate is presented on an https address only: %w", errdefs.ErrInvalidArgument)
	case strings.HasPrefix(addr, "http://"):
		return nil, fmt.Errorf("address %q: plain http is not supported, use the unix socket or https: %w", addr, errdefs.ErrInvalidArgument)
	default:
		path := strings.TrimPrefix(addr, "unix://")
		if path == "" {
			return nil, fmt.Errorf("empty daemon address: %w", errdefs.ErrInvalidArgument)
		}
		c.base = "http://enclaved"
		c.http = &http.Client{Timeout: o.timeout, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
			Proxy: nil,
		}}
	}
	return c, nil
}

// Error is an error answer of the daemon.
type Error struct {
	Status int
	api.ErrorDetail
}

func (e *Error) Error() string {
	msg := e.Message
	if len(e.Reasons) > 0 {
		msg += ": " + strings.Join(e.Reasons, "; ")
	}
	if e.Status >= 500 {
		msg += " (request " + e.RequestID + ")"
	}
	return msg
}

// Unwrap maps the daemon's error class back to its errdefs class.
func (e *Error) Unwrap() error {
	switch e.Class {
	case "invalid-argument":
		return errdefs.ErrInvalidArgument
	case "unauthenticated":
		return errdefs.ErrUnauthenticated
	case "permission-denied":
		return errdefs.ErrPermissionDenied
	case "not-found":
		return errdefs.ErrNotFound
	case "already-exists":
		return errdefs.ErrAlreadyExists
	case "conflict":
		return errdefs.ErrConflict
	case "failed-precondition":
		return errdefs.ErrFailedPrecondition
	case "resource-exhausted":
		return errdefs.ErrResourceExhausted
	case "unavailable":
		return errdefs.ErrUnavailable
	case "data-loss":
		return errdefs.ErrDataLoss
	case "not-implemented":
		return errdefs.ErrNotImplemented
	}
	return errdefs.ErrUnknown
}

// Do sends one request: body (when not nil) as JSON, and decodes a JSON
// answer into out (when not nil).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode the daemon's answer to %s %s: %w", method, path, err)
	}
	return nil
}

func decodeBody(r io.Reader, out any) error {
	if err := json.NewDecoder(r).Decode(out); err != nil {
		return fmt.Errorf("decode the daemon's answer: %w", err)
	}
	return nil
}

// Stream sends one request and returns the answer's body for the caller to
// read and close.
func (c *Client) Stream(ctx context.Context, method, path string, body any) (io.ReadCloser, error) {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	return c.sendType(ctx, method, path, body, "")
}

func (c *Client) sendType(ctx context.Context, method, path string, body any, contentType string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		if r, ok := body.(io.Reader); ok {
			rd = r
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				return nil, fmt.Errorf("encode request: %w", err)
			}
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		switch {
		case contentType != "":
			req.Header.Set("Content-Type", contentType)
		case isReader(body):
			req.Header.Set("Content-Type", "application/octet-stream")
		default:
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the daemon: %v: %w", err, errdefs.ErrUnavailable)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var eb api.ErrorBody
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(data, &eb) != nil || eb.Error.Class == "" {
			return nil, &Error{Status: resp.StatusCode, ErrorDetail: api.ErrorDetail{Class: "unknown", Message: fmt.Sprintf("daemon answered %s", resp.Status)}}
		}
		return nil, &Error{Status: resp.StatusCode, ErrorDetail: eb.Error}
	}
	return resp, nil
}

// Query builds a query string from pairs, leaving out empty values.
func Query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

func isReader(v any) bool { _, ok := v.(io.Reader); return ok }
