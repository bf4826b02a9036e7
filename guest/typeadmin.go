package guest

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// Limits of a guest type.
const (
	MaxGuestTypeName        = 40
	MaxGuestTypeDescription = 200
	MaxGuestValidity        = 5 * 365 * 24 * time.Hour
)

// GuestTypeInfo is a guest type as an admin manages it.
type GuestTypeInfo struct {
	storage.GuestType
	Default bool // the type self-registered guests get; it cannot be deleted
	Guests  int  // guests of the type, of any status
	// Groups are the sponsor groups whose members may create guests of
	// the type (see SponsorGroup.GuestTypes, the one place this is kept).
	Groups []string
}

var typeNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// CheckGuestType checks gt as an admin gives it and returns it normalised
// (name trimmed and lower-cased, MaxDuration 0 taken as the validity), or
// every problem as *InvalidError joined, with Field one of name,
// description, validity, max_validity, expiry_notice.
func CheckGuestType(gt storage.GuestType) (storage.GuestType, error) {
	var errs []error
	bad := func(field, msg string) { errs = append(errs, invalid(field, msg)) }
	gt.Name = strings.ToLower(strings.TrimSpace(gt.Name))
	switch {
	case gt.Name == "":
		bad("name", "Enter a name for the guest type, such as contractor.")
	case len(gt.Name) > MaxGuestTypeName:
		bad("name", fmt.Sprintf("The name must be %d characters or fewer.", MaxGuestTypeName))
	case !typeNameRE.MatchString(gt.Name):
		bad("name", "The name may have only lower-case letters, digits, - and _, and must start with a letter or digit.")
	}
	gt.Description = strings.TrimSpace(gt.Description)
	if msg := CheckLine("The description", gt.Description, MaxGuestTypeDescription, false, ""); msg != "" {
		bad("description", msg)
	}
	switch {
	case gt.DefaultDuration <= 0:
		bad("validity", "Enter how long guests of this type may stay, such as 1 day or 8 hours.")
	case gt.DefaultDuration < time.Minute:
		bad("validity", "The validity must be at least a minute.")
	case gt.DefaultDuration > MaxGuestValidity:
		bad("validity", "The validity must be at most 5 years.")
	}
	if gt.MaxDuration == 0 {
		gt.MaxDuration = gt.DefaultDuration
	}
	switch {
	case gt.MaxDuration < 0:
		bad("max_validity", "The maximum stay must not be negative.")
	case gt.DefaultDuration > 0 && gt.MaxDuration < gt.DefaultDuration:
		bad("max_validity", fmt.Sprintf("The maximum stay (%s) must be at least the validity (%s): extensions add to the validity.",
			HumanDuration(gt.MaxDuration), HumanDuration(gt.DefaultDuration)))
	case gt.MaxDuration > MaxGuestValidity && gt.MaxDuration != gt.DefaultDuration: // else the validity's problem
		bad("max_validity", "The maximum stay must be at most 5 years.")
	}
	if gt.ExpiryNotice > 0 && gt.DefaultDuration > 0 && gt.ExpiryNotice >= gt.DefaultDuration {
		bad("expiry_notice", fmt.Sprintf("The expiry notice (%s before the end) must be shorter than the validity (%s), or no guest would get it; turn it off instead.",
			HumanDuration(gt.ExpiryNotice), HumanDuration(gt.DefaultDuration)))
	}
	if err := errors.Join(errs...); err != nil {
		return storage.GuestType{}, err
	}
	return gt, nil
}

// GuestTypeDetails lists the guest types with their guest counts and the
// sponsor groups that may use them.
func (s *Service) GuestTypeDetails(ctx context.Context) ([]GuestTypeInfo, error) {
	types, err := s.store.ListGuestTypes(ctx)
	if err != nil {
		return nil, fmt.Errorf("guest: list guest types: %w", err)
	}
	groups, err := s.store.ListSponsorGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("guest: list sponsor groups: %w", err)
	}
	out := make([]GuestTypeInfo, 0, len(types))
	for _, gt := range types {
		n, err := s.store.CountGuestsOfType(ctx, gt.Name)
		if err != nil {
			return nil, fmt.Errorf("guest: %w", err)
		}
		info := GuestTypeInfo{GuestType: gt, Default: gt.Name == s.pol.DefaultGuestType, Guests: n}
		for _, g := range groups {
			if len(g.GuestTypes) == 0 || slices.Contains(g.GuestTypes, gt.Name) {
				info.Groups = append(info.Groups, g.Name)
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// CreateGuestType adds a guest type (see CheckGuestType); a type of that
// name already there is an *InvalidError on name. Admins only; audited.
func (s *Service) CreateGuestType(ctx context.Context, a Actor, gt storage.GuestType) (storage.GuestType, error) {
	return s.putGuestType(ctx, a, gt, true)
}

// UpdateGuestType replaces the guest type of gt.Name (names do not change:
// guests refer to them). The change applies to guests created or extended
// afterwards; existing guests keep their times. Admins only; audited.
func (s *Service) UpdateGuestType(ctx context.Context, a Actor, gt storage.GuestType) (storage.GuestType, error) {
	return s.putGuestType(ctx, a, gt, false)
}

func (s *Service) putGuestType(ctx context.Context, a Actor, gt storage.GuestType, create bool) (storage.GuestType, error) {
	if err := adminOnly(a, "manage guest types"); err != nil {
		return storage.GuestType{}, err
	}
	gt, err := CheckGuestType(gt)
	if err != nil {
		return storage.GuestType{}, err
	}
	action := "guest_type.update"
	if create {
		action = "guest_type.create"
	}
	err = s.store.WithTx(ctx, func(tx storage.Store) error {
		_, err := tx.GetGuestType(ctx, gt.Name)
		switch {
		case err == nil && create:
			return invalid("name", fmt.Sprintf("There is already a guest type called %s; choose another name, or edit that one.", gt.Name))
		case errors.Is(err, storage.ErrNotFound) && !create:
			return fmt.Errorf("guest type %q: %w", gt.Name, ErrNotFound)
		case err != nil && !errors.Is(err, storage.ErrNotFound):
			return err
		}
		if err := tx.PutGuestType(ctx, gt); err != nil {
			return err
		}
		return tx.Audit(ctx, storage.AuditEntry{Actor: a.String(), Action: action, Subject: "guest_type:" + gt.Name, Detail: describeType(gt)})
	})
	if err != nil {
		if errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) {
			return storage.GuestType{}, err
		}
		return storage.GuestType{}, fmt.Errorf("guest: %s %q: %w", action, gt.Name, err)
	}
	s.types.forget()
	s.log.InfoContext(ctx, "guest type saved", "guest_type", gt.Name, "action", action, "actor", a.String(),
		"validity_ms", gt.DefaultDuration.Milliseconds(), "max_ms", gt.MaxDuration.Milliseconds(), "from_first_sign_in", gt.FromFirstSignIn)
	return gt, nil
}

func describeType(gt storage.GuestType) string {
	from := "creation"
	if gt.FromFirstSignIn {
		from = "first sign-in"
	}
	notice := "default"
	switch {
	case gt.ExpiryNotice < 0:
		notice = "off"
	case gt.ExpiryNotice > 0:
		notice = HumanDuration(gt.ExpiryNotice)
	}
	return fmt.Sprintf("validity %s from %s, at most %s, expiry notice %s, approval %t",
		HumanDuration(gt.DefaultDuration), from, HumanDuration(gt.MaxDuration), notice, gt.RequireApproval)
}

// DeleteGuestType deletes a guest type. The default type is refused, and
// so is a type that guests of any status still have (the message gives
// their number: delete them, or wait until the purge job removes them).
// Sponsor groups that name the type keep the name, which then allows
// nothing. Admins only; audited.
func (s *Service) DeleteGuestType(ctx context.Context, a Actor, name string) error {
	if err := adminOnly(a, "manage guest types"); err != nil {
		return err
	}
	if name == s.pol.DefaultGuestType {
		return invalid("name", fmt.Sprintf("%s is the type self-registered guests get, so it cannot be deleted; you can change it instead.", name))
	}
	err := s.store.WithTx(ctx, func(tx storage.Store) error {
		if _, err := tx.GetGuestType(ctx, name); err != nil {
			return err
		}
		n, err := tx.CountGuestsOfType(ctx, name)
		if err != nil {
			return err
		}
		if n > 0 {
			what := "guests are"
			if n == 1 {
				what = "guest is"
			}
			return invalid("name", fmt.Sprintf("%d %s of type %s; delete them first, or wait until they expire and are purged.", n, what, name))
		}
		if err := tx.DeleteGuestType(ctx, name); err != nil {
			return err
		}
		return tx.Audit(ctx, storage.AuditEntry{Actor: a.String(), Action: "guest_type.delete", Subject: "guest_type:" + name})
	})
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			return err
		}
		return fmt.Errorf("guest: delete guest type %q: %w", name, err)
	}
	s.types.forget()
	return nil
}

// SetGuestTypeGroups makes groups the sponsor groups that may create
// guests of type name, by editing the groups' lists
// (SponsorGroup.GuestTypes). A group with an empty list may use every
// type: left out, it gets the list of every other type. A group cannot be
// left with no type at all (an empty list means all of them): that is an
// *InvalidError on groups. Admins only; audited.
func (s *Service) SetGuestTypeGroups(ctx context.Context, a Actor, name string, groups []string) error {
	if err := adminOnly(a, "manage guest types"); err != nil {
		return err
	}
	err := s.store.WithTx(ctx, func(tx storage.Store) error {
		if _, err := tx.GetGuestType(ctx, name); err != nil {
			return err
		}
		types, err := tx.ListGuestTypes(ctx)
		if err != nil {
			return err
		}
		all, err := tx.ListSponsorGroups(ctx)
		if err != nil {
			return err
		}
		for _, g := range groups {
			if !slices.ContainsFunc(all, func(x storage.SponsorGroup) bool { return x.Name == g }) {
				return invalid("groups", fmt.Sprintf("There is no sponsor group %q.", g))
			}
		}
		var changed []string
		for _, g := range all {
			want := slices.Contains(groups, g.Name)
			list := g.GuestTypes
			switch {
			case want && (len(list) == 0 || slices.Contains(list, name)):
				continue
			case want:
				list = append(slices.Clone(list), name)
			case !want && len(list) > 0 && !slices.Contains(list, name):
				continue
			case len(list) == 0: // every type: every type but this one
				list = nil
				for _, t := range types {
					if t.Name != name {
						list = append(list, t.Name)
					}
				}
			default:
				list = slices.DeleteFunc(slices.Clone(list), func(t string) bool { return t == name })
			}
			if len(list) == 0 {
				return invalid("groups", fmt.Sprintf("The sponsor group %s would be left with no guest type; allow it another type first.", g.Name))
			}
			g.GuestTypes = list
			if err := tx.PutSponsorGroup(ctx, g); err != nil {
				return err
			}
			changed = append(changed, g.Name+": "+strings.Join(list, ","))
		}
		if len(changed) == 0 {
			return nil
		}
		return tx.Audit(ctx, storage.AuditEntry{Actor: a.String(), Action: "guest_type.groups", Subject: "guest_type:" + name,
			Detail: strings.Join(changed, "; ")})
	})
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			return err
		}
		return fmt.Errorf("guest: sponsor groups of guest type %q: %w", name, err)
	}
	return nil
}
