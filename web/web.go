package web

import (
	"embed"
	"io/fs"
)

//go:embed all:pages all:email all:static all:locales
var files embed.FS

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic("web: " + err.Error()) // the directories are embedded above; this cannot fail
	}
	return f
}

// Pages returns the page templates (*.html), parsed by the handlers at start-up.
func Pages() fs.FS { return sub("pages") }

// Emails returns the email templates: NAME.subject.tmpl, NAME.txt.tmpl and
// NAME.html.tmpl for each notification.
func Emails() fs.FS { return sub("email") }

// Static returns the stylesheet and other assets served under /static.
func Static() fs.FS { return sub("static") }

// Locales returns the message catalogs, LANG.toml (en, de, fr, es), in the
// format of github.com/nicksnyder/go-i18n: the words of the guest pages
// and the guest emails.
func Locales() fs.FS { return sub("locales") }
