package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/enclave/api"
)

// status translates an error's errdefs class to an HTTP status and class
// name. This is the only place where that translation happens.
func status(err error) (int, string) {
	switch {
	case errdefs.IsInvalidArgument(err):
		return http.StatusBadRequest, "invalid-argument"
	case errdefs.IsUnauthorized(err):
		return http.StatusUnauthorized, "unauthenticated"
	case errdefs.IsPermissionDenied(err):
		return http.StatusForbidden, "permission-denied"
	case errdefs.IsNotFound(err):
		return http.StatusNotFound, "not-found"
	case errdefs.IsAlreadyExists(err):
		return http.StatusConflict, "already-exists"
	case errdefs.IsConflict(err):
		return http.StatusConflict, "conflict"
	case errdefs.IsFailedPrecondition(err):
		return http.StatusPreconditionFailed, "failed-precondition"
	case errdefs.IsResourceExhausted(err):
		return http.StatusTooManyRequests, "resource-exhausted"
	case errdefs.IsCanceled(err):
		return 499, "canceled"
	case errors.Is(err, errSlowUpload):
		return http.StatusRequestTimeout, "deadline-exceeded"
	case errdefs.IsDeadlineExceeded(err):
		return http.StatusGatewayTimeout, "deadline-exceeded"
	case errdefs.IsNotImplemented(err):
		return http.StatusNotImplemented, "not-implemented"
	case errdefs.IsUnavailable(err):
		return http.StatusServiceUnavailable, "unavailable"
	case errdefs.IsDataLoss(err):
		return http.StatusInternalServerError, "data-loss"
	}
	return http.StatusInternalServerError, "internal"
}

// writeError writes err as a JSON error. The message of a 4xx error is the
// error's own text (which never holds data values, tokens or keys); a 5xx
// body carries only the class and the request id.
func writeError(w http.ResponseWriter, reqID string, err error, reasons []string) int {
	code, class := status(err)
	msg := err.Error()
	if code >= 500 {
		msg = "the daemon failed to answer; the request id names it in the daemon's log"
	}
	var de *deniedError
	if errors.As(err, &de) {
		reasons = de.reasons
	}
	writeJSON(w, code, api.ErrorBody{Error: api.ErrorDetail{Class: class, Message: msg, RequestID: reqID, Reasons: reasons}})
	return code
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// deniedError is a policy deny turned into an error for the response.
type deniedError struct {
	action  string
	reasons []string
	message string // the answer's message, when not the default
}

func (e *deniedError) Error() string {
	if e.message != "" {
		return e.message
	}
	return "permission denied for action \"" + e.action + "\""
}

func (e *deniedError) Unwrap() error { return errdefs.ErrPermissionDenied }
