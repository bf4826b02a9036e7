package guest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lobbyhq/lobby/notify"
	"github.com/lobbyhq/lobby/storage"
)

// EmailTemplate is one notification's templates as an admin edits them.
type EmailTemplate struct {
	Name         string // e.g. notify.TemplateGuestCredentials
	Title        string // e.g. "Guest credentials"
	Placeholders []notify.Placeholder
	// Source is what is sent: the saved override over Default.
	Source notify.Source
	// Default is what restoring the default gives: the operator's
	// template directory over the embedded templates.
	Default    notify.Source
	Overridden bool // an admin saved an override
}

// EmailTemplates lists every notification's templates, and the version of
// the saved overrides to pass back to SaveEmailTemplate and
// RestoreEmailTemplate (0: none saved yet).
func (s *Service) EmailTemplates(ctx context.Context) ([]EmailTemplate, int64, error) {
	ov, version, err := s.templateOverrides(ctx)
	if err != nil {
		return nil, 0, err
	}
	live, err := s.Renderer(ctx)
	if err != nil {
		return nil, 0, err
	}
	var out []EmailTemplate
	for _, name := range notify.TemplateNames() {
		def, _ := s.render.Source(name)
		src, _ := live.Source(name)
		_, over := ov[name]
		out = append(out, EmailTemplate{Name: name, Title: notify.TemplateTitle(name), Placeholders: notify.Placeholders(name),
			Source: src, Default: def, Overridden: over})
	}
	return out, version, nil
}

// Renderer returns the email renderer in force: the saved overrides over
// the configured templates, re-read as SettingsCacheTTL says.
func (s *Service) Renderer(ctx context.Context) (*notify.Renderer, error) {
	l, err := s.live(ctx)
	if err != nil {
		return nil, err
	}
	return l.render, nil
}

// PreviewEmailTemplate renders notification name from src (an empty part:
// the default's) with notify.SampleData and the site name in force,
// saving nothing. A template that does not parse or run is an
// *InvalidError whose Field is the part ("subject", "text" or "html") and
// whose Message names the line and column.
func (s *Service) PreviewEmailTemplate(ctx context.Context, name string, src notify.Source) (subject, text, html string, err error) {
	data := notify.SampleData(name)
	if data == nil {
		return "", "", "", invalid("name", fmt.Sprintf("There is no email %q.", name))
	}
	if ps, err := s.PortalSettings(ctx); err == nil {
		data["SiteName"] = ps.SiteName
	}
	subject, text, html, err = s.render.Preview(name, src, data)
	return subject, text, html, asInvalid(err)
}

// asInvalid turns a *notify.TemplateError into an *InvalidError.
func asInvalid(err error) error {
	var te *notify.TemplateError
	if errors.As(err, &te) {
		return &InvalidError{Field: te.Part, Message: te.Error()}
	}
	return err
}

// SaveEmailTemplate saves src as the override of notification name (an
// empty part keeps the default's), if the saved overrides are still at
// version (as EmailTemplates gave it): otherwise the error wraps
// ErrConflict. src must parse and render the sample data (else an
// *InvalidError, as PreviewEmailTemplate gives). Only admins (or the
// system) may; the save is audited and sending uses it at once in this
// process, within SettingsCacheTTL in the others. It returns the new
// version.
func (s *Service) SaveEmailTemplate(ctx context.Context, actor Actor, name string, src notify.Source, version int64) (int64, error) {
	if err := adminOnly(actor, "change the email templates"); err != nil {
		return 0, err
	}
	if notify.SampleData(name) == nil {
		return 0, invalid("name", fmt.Sprintf("There is no email %q.", name))
	}
	if err := s.render.CheckSource(name, src); err != nil {
		return 0, asInvalid(err)
	}
	return s.changeOverrides(ctx, actor, version, "settings.template_save", name, func(ov map[string]notify.Source) {
		if src.IsZero() {
			delete(ov, name)
		} else {
			ov[name] = src
		}
	})
}

// RestoreEmailTemplate deletes the saved override of notification name,
// so that the default is sent again; version as for SaveEmailTemplate.
// Restoring a template without an override changes nothing and returns
// version.
func (s *Service) RestoreEmailTemplate(ctx context.Context, actor Actor, name string, version int64) (int64, error) {
	if err := adminOnly(actor, "change the email templates"); err != nil {
		return 0, err
	}
	if notify.SampleData(name) == nil {
		return 0, invalid("name", fmt.Sprintf("There is no email %q.", name))
	}
	ov, stored, err := s.templateOverrides(ctx)
	if err != nil {
		return 0, err
	}
	if _, ok := ov[name]; !ok && stored == version {
		return version, nil
	}
	return s.changeOverrides(ctx, actor, version, "settings.template_restore", name, func(ov map[string]notify.Source) { delete(ov, name) })
}

// templateOverrides reads the saved overrides and their version.
func (s *Service) templateOverrides(ctx context.Context) (map[string]notify.Source, int64, error) {
	row, err := s.store.GetSetting(ctx, notify.TemplatesSettingsKey)
	if errors.Is(err, storage.ErrNotFound) {
		return map[string]notify.Source{}, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("guest: read the email templates: %w", err)
	}
	ov, err := notify.DecodeOverrides(row)
	if err != nil {
		return nil, 0, fmt.Errorf("guest: %w", err)
	}
	return ov, row.Version, nil
}

func (s *Service) changeOverrides(ctx context.Context, actor Actor, version int64, action, name string, change func(map[string]notify.Source)) (int64, error) {
	row := &storage.Setting{Key: notify.TemplatesSettingsKey, Version: version, UpdatedBy: actor.String()}
	err := s.store.WithTx(ctx, func(tx storage.Store) error {
		ov := map[string]notify.Source{}
		old, err := tx.GetSetting(ctx, notify.TemplatesSettingsKey)
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return err
		default:
			if old.Version != version {
				return storage.ErrConflict
			}
			if ov, err = notify.DecodeOverrides(old); err != nil {
				return err
			}
		}
		change(ov)
		if row.Value, err = json.Marshal(ov); err != nil {
			return err
		}
		if err := tx.PutSetting(ctx, row); err != nil {
			return err
		}
		return tx.Audit(ctx, storage.AuditEntry{Actor: actor.String(), Action: action, Subject: notify.TemplatesSettingsKey,
			Detail: fmt.Sprintf("%s (version %d)", name, row.Version)})
	})
	if errors.Is(err, storage.ErrConflict) {
		return 0, fmt.Errorf("guest: someone else saved the email templates meanwhile; reload them and make your changes again: %w", err)
	}
	if err != nil {
		return 0, fmt.Errorf("guest: save the email templates: %w", err)
	}
	s.settings.invalidate()
	s.log.InfoContext(ctx, "email templates saved", "template", name, "action", action, "version", row.Version, "actor", actor.String())
	return row.Version, nil
}
