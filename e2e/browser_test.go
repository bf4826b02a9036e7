//go:build e2e

package e2e

import (
	"context"
	"testing"

	"github.com/lobbyhq/lobby/internal/browsertest"
)

// TestBrowser runs the browser tests in one headless Chromium, each in a
// tab and browser context of its own, against a Lobby of its own.
func TestBrowser(t *testing.T) {
	browser := browsertest.Start(t)
	for _, tc := range []struct {
		name string
		test func(*testing.T, context.Context)
	}{
		{"GuestJourneyOnAPhone", testGuestJourneyOnAPhone},
		{"ServerValidation", testServerValidation},
		{"WithoutJavaScript", testWithoutJavaScript},
		{"Accessibility", testAccessibility},
		{"SignInNowFromAGatedPage", testSignInNowFromAGatedPage},
		{"SponsorWithoutJavaScript", testSponsorWithoutJavaScript},
		{"SponsorJourney", testSponsorJourney},
		{"AdminJourney", testAdminJourney},
		{"GuestInGerman", testGuestInGerman},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, browser)
		})
	}
}
