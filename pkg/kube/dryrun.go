package kube

import (
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DryRun is kubectl's --dry-run strategy.
type DryRun string

// The dry-run strategies.
const (
	DryRunNone   DryRun = "none"
	DryRunClient DryRun = "client"
	DryRunServer DryRun = "server"
)

// DryRunBare is the value a bare --dry-run stands for, as in kubectl: the
// flag's NoOptDefVal, which ParseDryRun reads as client, with a deprecation.
const DryRunBare = "unchanged"

// ParseDryRun reads a --dry-run value with kubectl's rules (k8s.io/kubectl's
// GetDryRunStrategy): none, client or server; "" means none. A bare
// --dry-run (DryRunBare) and the old boolean values are still accepted,
// true as client and false as none, and come with the deprecation kubectl
// prints, for the caller to show as a warning.
func ParseDryRun(s string) (_ DryRun, deprecation string, _ error) {
	switch DryRun(s) {
	case "", DryRunNone:
		return DryRunNone, "", nil
	case DryRunClient, DryRunServer:
		return DryRun(s), "", nil
	}
	if s == DryRunBare {
		return DryRunClient, "--dry-run is deprecated and can be replaced with --dry-run=client", nil
	}
	if b, err := strconv.ParseBool(s); err == nil {
		d := DryRunNone
		if b {
			d = DryRunClient
		}
		return d, fmt.Sprintf("--dry-run=%s is deprecated (boolean value) and can be replaced with --dry-run=%s", s, d), nil
	}
	return "", "", fmt.Errorf(`invalid --dry-run %q: must be one of none, client, server`, s)
}

// Server is the dryRun field of write options: All for a server dry run.
func (d DryRun) Server() []string {
	if d == DryRunServer {
		return []string{metav1.DryRunAll}
	}
	return nil
}

// Suffix is what kubectl appends to the lines of a dry run.
func (d DryRun) Suffix() string {
	switch d {
	case DryRunClient:
		return " (dry run)"
	case DryRunServer:
		return " (server dry run)"
	}
	return ""
}
