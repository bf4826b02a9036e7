package webkit

import (
	"net/url"
	"strings"
)

// Link is a relative link with its text.
type Link struct {
	Href string
	Text string
}

// Field is one form input as a page shows it: its label, hint, current
// value and error. The "field" template renders it accessibly: a label tied
// to the input, hint and error tied with aria-describedby, aria-invalid
// when in error.
type Field struct {
	Name         string
	Label        string
	Hint         string
	Type         string // text, email, tel, password, textarea, checkbox
	Autocomplete string
	Required     bool
	MaxLen       int // 0: no maxlength attribute
	Value        string
	Error        string
	ErrorLink    *Link // an action offered with the error, e.g. "email me my credentials again"
	Words        FieldWords
}

// FieldWords are the words the "field" template adds around a field, in
// the page's language; empty: English.
type FieldWords struct {
	Optional string // "(optional)"
	Error    string // "Error:", read out before the message
}

// ID is the element id of the input, the target of the error summary's link.
func (f *Field) ID() string { return "f-" + f.Name }

// HintID and ErrorID are the ids of the hint and error texts.
func (f *Field) HintID() string  { return f.ID() + "-hint" }
func (f *Field) ErrorID() string { return f.ID() + "-error" }

// DescribedBy is the aria-describedby value: the hint and the error, when present.
func (f *Field) DescribedBy() string {
	var ids []string
	if f.Hint != "" {
		ids = append(ids, f.HintID())
	}
	if f.Error != "" {
		ids = append(ids, f.ErrorID())
	}
	return strings.Join(ids, " ")
}

// Checked reports whether a checkbox is ticked.
func (f *Field) Checked() bool { return f.Value != "" }

// Form is a list of fields in page order.
type Form struct {
	Fields []*Field
}

// SetWords sets the words of every field (see FieldWords).
func (f *Form) SetWords(w FieldWords) {
	if f == nil {
		return
	}
	for _, fl := range f.Fields {
		fl.Words = w
	}
}

// NewForm returns a form of fields.
func NewForm(fields ...*Field) *Form { return &Form{Fields: fields} }

// Field returns the field called name, or nil.
func (f *Form) Field(name string) *Field {
	if f == nil {
		return nil
	}
	for _, fl := range f.Fields {
		if fl.Name == name {
			return fl
		}
	}
	return nil
}

// Value returns the value of the field called name, or "".
func (f *Form) Value(name string) string {
	if fl := f.Field(name); fl != nil {
		return fl.Value
	}
	return ""
}

// Load sets every field's value from v, trimming spaces around it.
func (f *Form) Load(v url.Values) {
	for _, fl := range f.Fields {
		fl.Value = strings.TrimSpace(v.Get(fl.Name))
	}
}

// Fail sets the error of the field called name (the first error stays).
func (f *Form) Fail(name, message string) {
	if fl := f.Field(name); fl != nil && fl.Error == "" {
		fl.Error = message
	}
}

// Errors returns the fields in error, in page order: the error summary.
func (f *Form) Errors() []*Field {
	if f == nil {
		return nil
	}
	var out []*Field
	for _, fl := range f.Fields {
		if fl.Error != "" {
			out = append(out, fl)
		}
	}
	return out
}

// Valid reports whether no field is in error.
func (f *Form) Valid() bool { return len(f.Errors()) == 0 }
