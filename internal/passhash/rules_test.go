package passhash

import "testing"

func TestCheckNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		user, pw string
		ok       bool
	}{
		{"sally", "short", false},
		{"sally", "elevenchars", false},
		{"sally", "twelve chars", true},
		{"sallysallysa", "SallySallySa", false},         // the username, folded
		{"sally", "Password1234", false},                // common, folded
		{"sally", " correcthorsebatterystaple ", false}, // common, trimmed
		{"sally", "Ünïcödé-wörds", true},                // counted in characters
		{"sally", "ÜÜÜÜÜÜ", false},                      // 12 bytes, 6 characters
	} {
		if got := CheckNew(tc.user, tc.pw); (got == "") != tc.ok {
			t.Errorf("CheckNew(%q, %q) = %q, want ok=%v", tc.user, tc.pw, got, tc.ok)
		}
	}
}
