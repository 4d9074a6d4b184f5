package api

// AuditCursorHeader is the header of a full page of GET /v1/audit that
// names the next page: pass its value as the cursor query parameter, with
// the same filters and order (issue 21).
const AuditCursorHeader = "X-Next-Cursor"
