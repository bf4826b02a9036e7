package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// TestResendMail: resend answers the Future's result as the sponsor page
// says it: sent with the time taken, failed with the diagnosis, or queued
// when no sender runs in the process.
func TestResendMail(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		sender  notify.Sender
		status  string
		code    string // the diagnosis code, if any
		noteHas string
	}{
		{"sent", acceptAll{}, "sent", "", "Sent in"},
		{"failed", noStartTLS{}, "failed", notify.CodeStartTLSUnavailable, "STARTTLS"},
		{"no sender", nil, "queued", "", "waits in the outbox"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachBackend(t, options{sender: tc.sender}, func(t *testing.T, b *bundle) {
				ann := b.staff(t, "ann", storage.RoleSponsor, "")
				tok, _ := b.token(t, ann, time.Time{})
				g := b.guest(t, "Gail", ann, storage.GuestActive)
				r := b.call(t, tok, "POST", "/guests/"+g.ID.String()+"/resend", nil)
				if r.status != http.StatusOK {
					t.Fatalf("resend: %d %s", r.status, r.body)
				}
				var res GuestResult
				r.decode(t, &res)
				m := res.Mail
				if m == nil || m.Status != tc.status || m.To != g.Email || !strings.Contains(m.Note, tc.noteHas) {
					t.Fatalf("mail = %+v; want %s to %s, note with %q", m, tc.status, g.Email, tc.noteHas)
				}
				if tc.code != "" && (m.Diagnosis == nil || m.Diagnosis.Code != tc.code || m.Diagnosis.Hint == "") {
					t.Errorf("diagnosis = %+v; want %s with a hint", m.Diagnosis, tc.code)
				}
				if strings.Contains(string(r.body), g.Password) {
					t.Error("the answer carries the guest's password")
				}
				if out, err := b.store.GetMail(t.Context(), m.MessageID); err != nil || out.Recipient != g.Email {
					t.Errorf("outbox message %s: %v, %v", m.MessageID, out, err)
				}
			})
		})
	}
}

// TestActions: what each action answers and does, as an admin on anyone's
// guest; rules refused (wrong state) are 409 and change nothing.
func TestActions(t *testing.T) {
	t.Parallel()
	eachBackend(t, options{sender: acceptAll{}}, func(t *testing.T, b *bundle) {
		ann := b.staff(t, "ann", storage.RoleSponsor, "")
		root := b.staff(t, "root", storage.RoleAdmin, "")
		tok, _ := b.token(t, root, time.Time{})
		g := b.guest(t, "Gail", ann, storage.GuestActive)
		id := "/guests/" + g.ID.String()
		do := func(method, path string, body any, want int) GuestResult {
			t.Helper()
			r := b.call(t, tok, method, path, body)
			if r.status != want {
				t.Fatalf("%s %s: %d, want %d: %s", method, path, r.status, want, r.body)
			}
			var res GuestResult
			if want < 300 && want != http.StatusNoContent {
				r.decode(t, &res)
			} else if want >= 400 {
				r.problem(t)
			}
			return res
		}

		res := do("GET", id, nil, 200)
		if res.Guest.ID != g.ID || res.Guest.Email != g.Email || res.Guest.Password != "" || res.Guest.SponsorID == nil || *res.Guest.SponsorID != ann.ID {
			t.Errorf("get = %+v", res.Guest)
		}
		until := g.ValidUntil.Add(48 * time.Hour)
		if res = do("POST", id+"/extend", map[string]any{"valid_until": until}, 200); !res.Guest.ValidUntil.Equal(until) {
			t.Errorf("extend to %v: valid until %v", until, res.Guest.ValidUntil)
		}
		if res = do("POST", id+"/extend", map[string]any{"by": "1d"}, 200); !res.Guest.ValidUntil.Equal(until.Add(24 * time.Hour)) {
			t.Errorf("extend by 1d: valid until %v", res.Guest.ValidUntil)
		}
		if p := b.call(t, tok, "POST", id+"/extend", map[string]any{"by": "30d"}).problem(t); p.Status != 422 || len(p.Errors) != 1 || p.Errors[0].Field != "valid_until" {
			t.Errorf("extend past the maximum: %+v", p)
		}
		before := b.snapshot(t, g.ID)
		do("POST", id+"/approve", nil, http.StatusConflict) // active: nothing to approve
		do("POST", id+"/reinstate", nil, http.StatusConflict)
		if after := b.snapshot(t, g.ID); after != before {
			t.Errorf("refused actions changed the guest: %s -> %s", before, after)
		}
		if res = do("POST", id+"/reset-password", nil, 200); res.Mail == nil || res.Mail.Status != "sent" || res.Guest.Password != "" {
			t.Errorf("reset password: %+v", res)
		}
		if got, _ := b.store.GetGuest(t.Context(), g.ID); got.Password == g.Password {
			t.Error("reset password kept the password")
		}
		if res = do("POST", id+"/suspend", map[string]string{"reason": "lost badge"}, 200); res.Guest.Status != "suspended" {
			t.Errorf("suspend: %s", res.Guest.Status)
		}
		if res = do("POST", id+"/reinstate", map[string]string{}, 200); res.Guest.Status != "active" {
			t.Errorf("reinstate: %s", res.Guest.Status)
		}

		p := b.guest(t, "Pat", nil, storage.GuestPending)
		if res = do("POST", "/guests/"+p.ID.String()+"/approve", nil, 200); res.Guest.Status != "active" || res.Mail == nil || res.Mail.Status != "sent" {
			t.Errorf("approve: %+v", res)
		}
		d := b.guest(t, "Dee", nil, storage.GuestPending)
		if res = do("POST", "/guests/"+d.ID.String()+"/deny", map[string]string{"reason": "unknown"}, 200); res.Guest.Status != "denied" {
			t.Errorf("deny: %+v", res)
		}

		res = do("POST", "/guests", map[string]any{"first_name": "Card", "last_name": "Holder", "email": "card@guest.example",
			"company": "Acme", "guest_type": "contractor", "validity": "1w", "send_email": false}, 201)
		if res.Guest.Password == "" || res.Mail != nil || res.Guest.GuestType != "contractor" ||
			!res.Guest.ValidUntil.Equal(res.Guest.ValidFrom.Add(7*24*time.Hour)) || *res.Guest.SponsorID != root.ID {
			t.Errorf("create without email: %+v", res)
		}
		res = do("POST", "/guests", map[string]any{"first_name": "Mail", "last_name": "Me", "email": "mail@guest.example"}, 201)
		if res.Guest.Password != "" || res.Mail == nil || res.Mail.Status != "sent" {
			t.Errorf("create with email: %+v", res)
		}
		var batch GuestList
		r := b.call(t, tok, "POST", "/guests/batch", map[string]any{"count": 3, "prefix": "expo", "validity": "8h"})
		if r.status != 201 {
			t.Fatalf("batch: %d %s", r.status, r.body)
		}
		r.decode(t, &batch)
		if len(batch.Guests) != 3 {
			t.Fatalf("batch: %d guests", len(batch.Guests))
		}
		for _, bg := range batch.Guests {
			if !strings.HasPrefix(bg.Username, "expo-") || bg.Password == "" {
				t.Errorf("batch guest %+v", bg)
			}
		}

		do("DELETE", id, nil, http.StatusNoContent)
		do("GET", id, nil, http.StatusNotFound)
		do("DELETE", id, nil, http.StatusNotFound)
		do("GET", "/guests/not-an-id", nil, http.StatusNotFound)
		if es := b.audit(t, g.ID.String()); len(es) == 0 || es[0].Action != "guest.delete" || !strings.Contains(es[0].Detail, "via API") || es[0].Actor != "staff:root" {
			t.Errorf("delete audit: %+v", es)
		}
	})
}

// TestBadRequests: bodies that do not read are 400, a body that is not
// JSON 415, fields the rules refuse 422 with every field named, and
// unknown paths and methods problems too; nothing is created.
func TestBadRequests(t *testing.T) {
	t.Parallel()
	eachBackend(t, options{}, func(t *testing.T, b *bundle) {
		ann := b.staff(t, "ann", storage.RoleSponsor, "")
		tok, _ := b.token(t, ann, time.Time{})
		g := b.guest(t, "Gail", ann, storage.GuestActive)
		n := b.countGuests(t)
		cases := []struct {
			name, method, path string
			body               any
			ctype              string
			status             int
			fields             []string
		}{
			{"broken JSON", "POST", "/guests", `{"first_name": `, "", 400, nil},
			{"not an object", "POST", "/guests", `[1]`, "", 400, nil},
			{"unknown field", "POST", "/guests", `{"first_name":"A","nickname":"x"}`, "", 400, nil},
			{"wrong type", "POST", "/guests", `{"first_name":1}`, "", 400, nil},
			{"two objects", "POST", "/guests", `{} {}`, "", 400, nil},
			{"not a time", "POST", "/guests", `{"first_name":"A","valid_from":"tomorrow"}`, "", 400, nil},
			{"no body", "POST", "/guests", "", "", 400, nil},
			{"a form", "POST", "/guests", "first_name=A", "application/x-www-form-urlencoded", 415, nil},
			{"missing fields", "POST", "/guests", `{}`, "", 422, []string{"first_name", "last_name", "email"}},
			{"bad fields", "POST", "/guests", `{"first_name":"A","last_name":"B","email":"nope","guest_type":"gold"}`, "", 422, []string{"guest_type", "email"}},
			{"bad validity", "POST", "/guests", `{"first_name":"A","last_name":"B","email":"a@b.example","validity":"forever"}`, "", 422, []string{"validity"}},
			{"too long", "POST", "/guests", `{"first_name":"A","last_name":"B","email":"a@b.example","validity":"60d"}`, "", 422, []string{"validity"}},
			{"batch too big", "POST", "/guests/batch", `{"count":501,"prefix":"Bad Prefix"}`, "", 422, []string{"count", "prefix"}},
			{"suspend without reason", "POST", "/guests/" + g.ID.String() + "/suspend", `{}`, "", 422, []string{"reason"}},
			{"extend both", "POST", "/guests/" + g.ID.String() + "/extend", `{"by":"1d","valid_until":"2030-01-01T00:00:00Z"}`, "", 422, []string{"valid_until"}},
			{"extend bad by", "POST", "/guests/" + g.ID.String() + "/extend", `{"by":"soon"}`, "", 422, []string{"by"}},
			{"extend into the past", "POST", "/guests/" + g.ID.String() + "/extend", `{"valid_until":"2020-01-01T00:00:00Z"}`, "", 422, []string{"valid_until"}},
			{"unknown path", "GET", "/nothing", nil, "", 404, nil},
			{"wrong method", "PUT", "/guests", `{}`, "", 405, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := b.snapshot(t, g.ID)
				var r resp
				if tc.ctype != "" {
					r = b.raw(t, tok, tc.method, tc.path, tc.ctype, tc.body.(string))
				} else {
					r = b.call(t, tok, tc.method, tc.path, tc.body)
				}
				if r.status != tc.status {
					t.Fatalf("%d, want %d: %s", r.status, tc.status, r.body)
				}
				p := r.problem(t)
				var fields []string
				for _, fe := range p.Errors {
					fields = append(fields, fe.Field)
					if fe.Detail == "" {
						t.Errorf("field %s without detail", fe.Field)
					}
				}
				for _, f := range tc.fields {
					if !strings.Contains(" "+strings.Join(fields, " ")+" ", " "+f+" ") {
						t.Errorf("errors name %v; want %s among them", fields, f)
					}
				}
				if after := b.snapshot(t, g.ID); after != before {
					t.Errorf("changed the guest: %s -> %s", before, after)
				}
			})
		}
		if b.countGuests(t) != n {
			t.Errorf("bad requests created guests")
		}
	})
}
