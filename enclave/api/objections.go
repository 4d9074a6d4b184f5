package api

import "time"

// ObjectionRequest is the body of POST /v1/objections: the dataset (a
// name the caller sees in the catalogue) and the filer's text (issue 20
// item 4; 001 art. 13, 002 art. 20).
type ObjectionRequest struct {
	Dataset string `json:"dataset"`
	Text    string `json:"text"`
}

// ObjectionAnswerRequest is the body of POST /v1/objections/{id}/answer:
// the custodian's answer and, optionally, the version of the dataset that
// corrects what the objection is about (an existing version).
type ObjectionAnswerRequest struct {
	Text             string `json:"text"`
	CorrectedVersion int    `json:"corrected_version,omitempty"`
}

// Objection is one objection about a dataset: who filed it and when, the
// custodian organisation that answers it and by when (the end of the 5th
// working day after filing), and its state: "open", "answered", or
// "overdue" (open past its due time).
type Objection struct {
	ID               string     `json:"id"`
	Dataset          string     `json:"dataset"`
	Org              string     `json:"org"`
	Text             string     `json:"text"`
	FiledBy          string     `json:"filed_by"`
	FilerOrg         string     `json:"filer_org"`
	FiledAt          time.Time  `json:"filed_at"`
	DueAt            time.Time  `json:"due_at"`
	State            string     `json:"state"`
	Answer           string     `json:"answer,omitempty"`
	AnsweredBy       string     `json:"answered_by,omitempty"`
	AnsweredAt       *time.Time `json:"answered_at,omitempty"`
	CorrectedVersion int        `json:"corrected_version,omitempty"`
}
