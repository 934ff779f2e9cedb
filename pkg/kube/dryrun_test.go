package kube

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestParseDryRun follows k8s.io/kubectl's GetDryRunStrategy: the three
// strategies, the bare flag and booleans as deprecated forms, and an error
// for anything else.
func TestParseDryRun(t *testing.T) {
	for _, tc := range []struct {
		in         string
		want       DryRun
		deprecated string
		err        string
	}{
		{"", DryRunNone, "", ""},
		{"none", DryRunNone, "", ""},
		{"client", DryRunClient, "", ""},
		{"server", DryRunServer, "", ""},
		{DryRunBare, DryRunClient, "--dry-run is deprecated and can be replaced with --dry-run=client", ""},
		{"true", DryRunClient, "--dry-run=true is deprecated (boolean value) and can be replaced with --dry-run=client", ""},
		{"1", DryRunClient, "--dry-run=1 is deprecated (boolean value) and can be replaced with --dry-run=client", ""},
		{"false", DryRunNone, "--dry-run=false is deprecated (boolean value) and can be replaced with --dry-run=none", ""},
		{"maybe", "", "", `invalid --dry-run "maybe": must be one of none, client, server`},
		{"Server", "", "", `invalid --dry-run "Server": must be one of none, client, server`},
	} {
		got, deprecated, err := ParseDryRun(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseDryRun(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want || deprecated != tc.deprecated {
			t.Errorf("ParseDryRun(%q) = %q, %q, %v; want %q, %q", tc.in, got, deprecated, err, tc.want, tc.deprecated)
		}
	}
}

func TestDryRunServerAndSuffix(t *testing.T) {
	for _, tc := range []struct {
		d      DryRun
		server []string
		suffix string
	}{
		{DryRunNone, nil, ""},
		{DryRunClient, nil, " (dry run)"},
		{DryRunServer, []string{metav1.DryRunAll}, " (server dry run)"},
	} {
		if got := tc.d.Server(); !reflect.DeepEqual(got, tc.server) {
			t.Errorf("%s.Server() = %v, want %v", tc.d, got, tc.server)
		}
		if got := tc.d.Suffix(); got != tc.suffix {
			t.Errorf("%s.Suffix() = %q, want %q", tc.d, got, tc.suffix)
		}
	}
}

func TestClientsManager(t *testing.T) {
	if got := (&Clients{}).Manager(); got != "kubectl-waypoint" {
		t.Errorf("default manager = %q, want kubectl-waypoint", got)
	}
	if got := (&Clients{FieldManager: "ci-bot"}).Manager(); got != "ci-bot" {
		t.Errorf("manager = %q, want ci-bot", got)
	}
}
