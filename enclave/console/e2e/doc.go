// Package e2e holds the console's end-to-end tests: the real API server
// (real policies, keyring, audit log and SQLite) with the console mounted,
// driven over TLS by a Go client and by headless Chromium through chromedp.
// It has no code outside its tests.
package e2e
