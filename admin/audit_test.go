package admin

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/lobbyhq/lobby/storage"
)

func TestAuditLogPage(t *testing.T) {
	t.Parallel()
	eachQuiet(t, func(t *testing.T, b *bundle, _ *stubMailer) {
		ctx := t.Context()
		b.staff(t, "ada", storage.RoleAdmin)
		for i := range 60 {
			actor, action := "staff:ada", "staff.create"
			switch i % 3 {
			case 1:
				actor, action = "staff:bob", "group.update"
			case 2:
				actor, action = "system", "alarm.raise"
			}
			if err := b.store.Audit(ctx, storage.AuditEntry{Actor: actor, Action: action, Subject: "s" + itoa(i), Detail: "<b>d</b>"}); err != nil {
				t.Fatal(err)
			}
		}
		c := b.client(t, "ada")
		subjects := func(body string) []string {
			var out []string
			for _, m := range regexp.MustCompile(`<td>(s\d+)</td>`).FindAllStringSubmatch(body, -1) {
				out = append(out, m[1])
			}
			return out
		}
		first := c.get("/audit")
		got := subjects(first.body)
		if len(got) != 50 || got[0] != "s59" || got[49] != "s10" || !strings.Contains(first.body, "&lt;b&gt;d&lt;/b&gt;") {
			t.Fatalf("first page: %d entries %v…:\n%s", len(got), got[:min(3, len(got))], first.body)
		}
		next := regexp.MustCompile(`href="\./(audit\?before=\d+)" rel="next"`).FindStringSubmatch(first.body)
		if next == nil {
			t.Fatalf("no link to older entries:\n%s", first.body)
		}
		second := c.get("/" + html.UnescapeString(next[1]))
		if got := subjects(second.body); len(got) != 10 || got[0] != "s9" || strings.Contains(second.body, `rel="next"`) {
			t.Errorf("second page: %v", got)
		}
		for query, want := range map[string][]string{
			"actor=staff%3Abob":               {"s58", "s55"},
			"action=alarm.":                   {"s59", "s56"},
			"actor=staff%3Aada&action=staff.": {"s57", "s54"},
			"actor=staff%3Aada&action=group.": nil,
		} {
			got := subjects(c.get("/audit?" + query).body)
			if len(got) > 2 {
				got = got[:2]
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("GET /audit?%s starts %v, want %v", query, got, want)
			}
		}
		if r := c.get("/audit?actor=staff%3Abob"); !strings.Contains(r.body, `value="staff:bob"`) {
			t.Errorf("the filter form does not keep the actor")
		}
	})
}
