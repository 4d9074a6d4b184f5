package main

import "github.com/enclave-dev/enclave/enclave/people"

// roleTable is the interim role table, until the OPA policies decide.
var roleTable = map[string][]people.Role{
	"whoami":           nil,
	"keys.public":      nil,
	"org.add":          {people.Authority},
	"org.list":         {people.Admin, people.Authority, people.Bureau, people.Officer},
	"org.suspend":      {people.Authority},
	"org.reinstate":    {people.Authority},
	"org.blacklist":    {people.Authority},
	"org.revoke":       {people.Authority},
	"person.add":       {people.Admin},
	"person.list":      {people.Admin},
	"person.show":      {people.Admin},
	"person.agreement": {people.Admin},
	"token.issue":      {people.Admin},
	"token.list":       {people.Admin},
	"token.revoke":     {people.Admin},
	"dataset.import":   {people.Custodian},
	"dataset.seal":     {people.Custodian},
	"dataset.unseal":   {people.Custodian},
	"dataset.destroy":  {people.Custodian},
	"dataset.list":     {people.Authority, people.Custodian, people.Operator, people.Officer, people.Bureau},
	"dataset.show":     {people.Authority, people.Custodian, people.Operator, people.Officer, people.Bureau},
	"audit.list":       {people.Admin, people.Bureau},
	"audit.verify":     {people.Admin, people.Bureau},
	"audit.export":     {people.Admin, people.Bureau},
}
