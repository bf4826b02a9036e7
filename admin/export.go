package admin

import (
	"io"
	"net/http"
	"strings"

	"github.com/lobbyhq/lobby/storage"
)

// The export and import page: the settings file (the settings documents,
// guest types and sponsor groups as JSON, without secrets) to download,
// and a file to import, with the report of what changed. The host gives
// the functions (Config.ExportSettings, Config.ImportSettings: the root
// package's), so that the file's format lives in one place.

// SettingsImport is what an import changed (lobby.ImportReport).
type SettingsImport struct {
	Settings      []string // the settings documents written
	GuestTypes    int      // guest types created or replaced
	SponsorGroups int      // sponsor groups created or replaced
	SecretsKept   []string // stored secrets left as they were
	// SecretsIgnored are secret fields the file had a value for, which
	// were not imported: set them on their page.
	SecretsIgnored []string
}

type exportPage struct {
	Export, Import bool // available
	Report         *SettingsImport
	File           string
	Error          string
}

func (a *Admin) exportView(w http.ResponseWriter, r *http.Request, st *storage.Staff, status int, p exportPage) {
	p.Export, p.Import = a.cfg.ExportSettings != nil, a.cfg.ImportSettings != nil
	v := a.view(r, "Export and import", st, "export", nil, p)
	a.page(w, r, status, "export", v)
}

func (a *Admin) getExport(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	a.exportView(w, r, st, http.StatusOK, exportPage{})
}

// getExportFile downloads the settings file.
func (a *Admin) getExportFile(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	if a.cfg.ExportSettings == nil {
		a.notFound(w, r, st)
		return
	}
	data, err := a.cfg.ExportSettings(r.Context())
	if err != nil {
		a.fail(w, r, st, "export settings", err)
		return
	}
	a.audit(r, st, "settings.export", "", "")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="lobby-settings-`+a.now().In(a.cfg.TimeZone).Format("2006-01-02")+`.json"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(data)
}

func (a *Admin) postImport(w http.ResponseWriter, r *http.Request, st *storage.Staff) {
	if a.cfg.ImportSettings == nil {
		a.notFound(w, r, st)
		return
	}
	var data []byte
	name := ""
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["file"]; len(fhs) > 0 {
			f, err := fhs[0].Open()
			if err == nil {
				data, err = io.ReadAll(f)
				_ = f.Close()
			}
			if err != nil {
				a.fail(w, r, st, "read uploaded settings", err)
				return
			}
			name = fhs[0].Filename
		}
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		a.exportView(w, r, st, http.StatusUnprocessableEntity, exportPage{Error: "Choose a settings file (exported from Lobby) to import."})
		return
	}
	rep, err := a.cfg.ImportSettings(r.Context(), data, "staff:"+st.Username)
	if err != nil {
		a.log.InfoContext(r.Context(), "admin: import settings refused", "error", err.Error())
		a.exportView(w, r, st, http.StatusUnprocessableEntity, exportPage{File: name,
			Error: "Nothing was imported: " + strings.TrimPrefix(err.Error(), "lobby: import settings: ")})
		return
	}
	a.audit(r, st, "settings.import", name, "settings: "+strings.Join(rep.Settings, ",")+
		"; guest types: "+itoa(rep.GuestTypes)+"; sponsor groups: "+itoa(rep.SponsorGroups))
	if a.cfg.SettingsSaved != nil && len(rep.Settings) > 0 {
		a.cfg.SettingsSaved()
	}
	a.exportView(w, r, st, http.StatusOK, exportPage{Report: &rep, File: name})
}
