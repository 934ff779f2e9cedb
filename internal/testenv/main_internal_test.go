package testenv

import "testing"

// TestUnitRunPattern: RunMain starts no control plane only for a -run
// pattern that can match nothing but TestUnit... tests and fuzz targets.
func TestUnitRunPattern(t *testing.T) {
	for run, want := range map[string]bool{
		"^TestUnit":             true,
		"^TestUnitHelp$":        true,
		"^TestUnitHelp/apply":   true,
		"^(TestUnit|Fuzz)":      true,
		"^Fuzz":                 true,
		"^FuzzScopeFlags$":      true,
		"":                      false,
		"TestUnit":              false,
		"Fuzz":                  false,
		"^TestUnit|TestList":    false,
		"^TestList":             false,
		"^TestUnit.*":           false,
		"^(TestUnit|TestApply)": false,
		"^(Fuzz|TestApply)":     false,
		"^(TestUnit|Fuzz)|Test": false,
		"^TestUnitA|^TestUnitB": false,
	} {
		if got := UnitOnly(run); got != want {
			t.Errorf("UnitOnly(%q) = %v, want %v", run, got, want)
		}
	}
}
