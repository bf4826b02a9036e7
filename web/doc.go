// Package web holds Lobby's embedded files: the html/template pages, the
// email templates (a text and an HTML body per notification) and the static
// assets. It holds no logic beyond handing them out.
package web
