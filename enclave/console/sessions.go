package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// session is one signed-in browser. Its id is only ever in the browser's
// cookie; the store keys it by the id's SHA-256.
type session struct {
	person  string
	org     string
	tokenID string
	// token is the person's bearer token, kept in memory only, so that
	// every request the session makes is authenticated by the API exactly
	// as a bearer request is (a revoked or expired token ends the session).
	token    string
	csrf     string
	created  time.Time
	lastSeen time.Time
}

// sessions is the in-memory session store. It is safe for concurrent use.
// A daemon restart signs everyone out.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session // key: hex SHA-256 of the session id
	idle time.Duration
	max  time.Duration
	cap  int
}

func newSessions(idle, max time.Duration, capacity int) *sessions {
	return &sessions{byID: map[string]*session{}, idle: idle, max: max, cap: capacity}
}

// random returns n random bytes, base64url-encoded.
func random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func key(id string) string {
	s := sha256.Sum256([]byte(id))
	return hex.EncodeToString(s[:])
}

// open stores a new session and returns its id (256 random bits).
func (st *sessions) open(s *session, now time.Time) (string, error) {
	id, err := random(32)
	if err != nil {
		return "", err
	}
	if s.csrf, err = random(32); err != nil {
		return "", err
	}
	s.created, s.lastSeen = now, now
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.byID) >= st.cap {
		st.pruneLocked(now)
	}
	if len(st.byID) >= st.cap {
		return "", errFull
	}
	st.byID[key(id)] = s
	return id, nil
}

// get returns the live session with id and marks it used; an expired one
// is removed and reported missing.
func (st *sessions) get(id string, now time.Time) (session, bool) {
	if id == "" || len(id) > 128 {
		return session{}, false
	}
	k := key(id)
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byID[k]
	if !ok {
		return session{}, false
	}
	if st.expired(s, now) {
		delete(st.byID, k)
		return session{}, false
	}
	s.lastSeen = now
	return *s, true
}

// close removes the session with id.
func (st *sessions) close(id string) {
	st.mu.Lock()
	delete(st.byID, key(id))
	st.mu.Unlock()
}

// len returns the number of stored sessions, live or not yet pruned.
func (st *sessions) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.byID)
}

func (st *sessions) expired(s *session, now time.Time) bool {
	return !now.Before(s.lastSeen.Add(st.idle)) || !now.Before(s.created.Add(st.max))
}

func (st *sessions) pruneLocked(now time.Time) {
	for k, s := range st.byID {
		if st.expired(s, now) {
			delete(st.byID, k)
		}
	}
}

// sameSecret compares two secrets in constant time.
func sameSecret(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
