// Package i18n translates what guests read: the portal's pages and the
// emails sent to them. The words live in message catalogs embedded in
// package web (web/locales/LANG.toml, one per language, in the format of
// github.com/nicksnyder/go-i18n); this package loads them, picks a
// person's language (a cookie set by the language switcher, else the
// browser's Accept-Language, else English) and formats dates and
// durations the way each language writes them.
//
// A Catalog is built once and is read-only afterwards; a Localizer is one
// language of it and is safe for concurrent use.
package i18n
