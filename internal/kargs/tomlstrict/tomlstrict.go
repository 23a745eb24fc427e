// Package tomlstrict decodes TOML documents the way upstream bootc's serde
// structs with `deny_unknown_fields` do: every key must match a field name
// exactly (TOML keys are case-sensitive, Go TOML decoders match
// case-insensitively), and errors carry the line and column of the fault.
//
// The allowed keys are taken from the `toml` struct tags of the target type.
// A struct field tagged `tomlstrict:"lenient"` names a table whose unknown
// keys are reported as warnings instead of errors (upstream uses this for
// tables without `deny_unknown_fields`, where serde_ignored prints a warning).
//
// Why not go-toml's own strict mode: go-toml/v2 (which does the decoding here) has
// Decoder.DisallowUnknownFields, but checked here (v2.4.3) its error says only "strict mode:
// fields in the document are missing in the target struct", naming neither the key nor the
// position in Error() (they are in a multi-line excerpt from StrictMissingError.String()),
// never lists the expected keys, and it matches keys case-insensitively, so `Title = "x"`
// is accepted for a field tagged `title`, which upstream refuses. Lenient tables and
// enum checks have no counterpart. This package keeps upstream's messages
// ("unknown field `titel`, expected ...", with line and column) and its case-exact keys;
// the error-message tests in tomlstrict_test.go hold it to that.
package tomlstrict

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Error is a decoding error at a position in the document. Line and Column
// start at 1; both are 0 when the fault has no position (a missing field).
type Error struct {
	Line   int    // 1-based line of the fault; 0 without a position
	Column int    // 1-based column of the fault; 0 without a position
	Msg    string // the message, without the position
}

// Error formats the error as "line L, column C: MSG", or just MSG without a
// position.
func (e *Error) Error() string {
	if e.Line <= 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// Decode decodes data into v, which must be a pointer to a struct. Keys that
// match no `toml` tag (exactly, case-sensitively) are errors, except inside
// tables marked lenient, where they are returned as warnings naming the
// dotted key path ("install.ostree.foo").
func Decode(data []byte, v any) (warnings []string, err error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("tomlstrict: target must be a pointer to a struct, not %T", v)
	}
	if !utf8.Valid(data) {
		return nil, &Error{Msg: "stream did not contain valid UTF-8"}
	}
	root := schemaOf(rv.Elem().Type())
	warnings, err = checkKeys(data, root)
	if err != nil {
		return nil, err
	}
	dec := toml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return nil, convertError(err)
	}
	return warnings, nil
}

// convertError turns a go-toml error into an *Error with a position.
func convertError(err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		return &Error{Line: line, Column: col, Msg: typeMsg(cleanMsg(de.Error()), de.Key())}
	}
	var pe *unstable.ParserError
	if errors.As(err, &pe) {
		return &Error{Msg: cleanMsg(pe.Error())}
	}
	return &Error{Msg: cleanMsg(err.Error())}
}

func cleanMsg(s string) string {
	return strings.TrimPrefix(s, "toml: ")
}

// typeMsg rewrites go-toml's "cannot decode TOML string into struct field
// pkg.T.F of type []string" into a message naming the TOML key and the
// expected TOML type instead of Go names.
func typeMsg(msg string, key []string) string {
	rest, ok := strings.CutPrefix(msg, "cannot decode TOML ")
	if !ok || len(key) == 0 {
		return msg
	}
	found, target, ok := strings.Cut(rest, " into ")
	if !ok {
		return msg
	}
	goType := target
	if i := strings.LastIndex(target, " of type "); i >= 0 {
		goType = target[i+len(" of type "):]
	}
	return fmt.Sprintf("invalid type for `%s`: found %s, expected %s", strings.Join(key, "."), found, tomlType(goType))
}

// tomlType names the TOML type a Go type decodes from.
func tomlType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a float"
	case strings.HasPrefix(goType, "map["):
		return "a table"
	default:
		if i := strings.LastIndexByte(goType, '.'); i >= 0 {
			// Named types: strings (enums) or tables (structs).
			return "a value of type " + goType[i+1:]
		}
		return "a " + goType
	}
}

// Enum is implemented by string types whose TOML values must be one of a
// fixed set (serde enums). Decode checks each such value, reporting
// "unknown variant" with its position.
type Enum interface {
	TOMLEnum() []string
}

// schema describes the keys a table accepts, or the values a leaf accepts.
type schema struct {
	fields  map[string]*schema // accepted keys of a table (nil for a leaf)
	names   []string           // accepted keys, in declaration order
	lenient bool               // unknown keys are warnings
	anyKey  bool               // a map: every key accepted
	elem    *schema            // for maps: the schema of each value
	enum    []string           // for enum leaves: the accepted strings
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	enumType        = reflect.TypeFor[Enum]()
)

// schemaOf builds the schema of a Go type; plain leaves return nil.
func schemaOf(t reflect.Type) *schema {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	if t.Implements(enumType) {
		return &schema{enum: reflect.Zero(t).Interface().(Enum).TOMLEnum()}
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil
	}
	switch t.Kind() {
	case reflect.Map:
		return &schema{anyKey: true, elem: schemaOf(t.Elem())}
	case reflect.Struct:
	default:
		return nil
	}
	s := &schema{fields: map[string]*schema{}}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		sub := schemaOf(f.Type)
		if sub != nil && f.Tag.Get("tomlstrict") == "lenient" {
			sub.lenient = true
		}
		s.fields[name] = sub
		s.names = append(s.names, name)
	}
	return s
}

// quoteList formats names the way serde lists expected fields or variants.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + n + "`"
	}
	switch len(q) {
	case 0:
		return "nothing"
	case 1:
		return q[0]
	case 2:
		return q[0] + " or " + q[1]
	default:
		return "one of " + strings.Join(q, ", ")
	}
}

// expected formats the accepted keys the way serde does.
func (s *schema) expected() string {
	if len(s.names) == 0 {
		return "there are no fields"
	}
	return "expected " + quoteList(s.names)
}

type walker struct {
	p        *unstable.Parser
	warnings []string
}

// lookup resolves one key part below s. It returns the child schema (nil
// for a leaf or an unchecked subtree) and whether the walk can continue.
func (w *walker) lookup(s *schema, path []string, key *unstable.Node) (*schema, bool, error) {
	if s == nil || s.enum != nil {
		// A leaf: the decoder reports the type mismatch.
		return nil, false, nil
	}
	name := string(key.Data)
	if s.anyKey {
		return s.elem, s.elem != nil, nil
	}
	child, ok := s.fields[name]
	if ok {
		return child, child != nil, nil
	}
	if s.lenient {
		w.warnings = append(w.warnings, strings.Join(append(append([]string{}, path...), name), "."))
		return nil, false, nil
	}
	pos := w.p.Shape(key.Raw).Start
	return nil, false, &Error{Line: pos.Line, Column: pos.Column,
		Msg: fmt.Sprintf("unknown field `%s`, %s", name, s.expected())}
}

// walkKey follows a dotted key from s; it returns the schema reached.
func (w *walker) walkKey(s *schema, path []string, it unstable.Iterator) (*schema, []string, bool, error) {
	path = append([]string{}, path...)
	for it.Next() {
		k := it.Node()
		child, cont, err := w.lookup(s, path, k)
		if err != nil || !cont {
			return nil, nil, false, err
		}
		path = append(path, string(k.Data))
		s = child
	}
	return s, path, true, nil
}

// kindName names a TOML value kind for messages.
func kindName(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "string"
	case unstable.Integer:
		return "integer"
	case unstable.Float:
		return "float"
	case unstable.Bool:
		return "boolean"
	case unstable.Array:
		return "array"
	case unstable.InlineTable:
		return "table"
	default:
		return "datetime"
	}
}

// walkValue checks the keys of inline tables (also inside arrays) and the
// values of enums.
func (w *walker) walkValue(s *schema, path []string, v *unstable.Node) error {
	if s == nil || v.Kind == unstable.Comment {
		return nil
	}
	if s.enum != nil && v.Kind != unstable.Array {
		pos := w.p.Shape(v.Raw).Start
		if v.Kind != unstable.String {
			return &Error{Line: pos.Line, Column: pos.Column,
				Msg: fmt.Sprintf("invalid type for `%s`: found %s, expected a string", strings.Join(path, "."), kindName(v.Kind))}
		}
		if !slices.Contains(s.enum, string(v.Data)) {
			return &Error{Line: pos.Line, Column: pos.Column,
				Msg: fmt.Sprintf("unknown variant `%s`, expected %s", v.Data, quoteList(s.enum))}
		}
		return nil
	}
	switch v.Kind {
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if err := w.walkKeyValue(s, path, it.Node()); err != nil {
				return err
			}
		}
	case unstable.Array:
		it := v.Children()
		for it.Next() {
			if err := w.walkValue(s, path, it.Node()); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *walker) walkKeyValue(s *schema, path []string, kv *unstable.Node) error {
	if kv.Kind != unstable.KeyValue {
		return nil
	}
	child, childPath, cont, err := w.walkKey(s, path, kv.Key())
	if err != nil || !cont {
		return err
	}
	return w.walkValue(child, childPath, kv.Value())
}

// checkKeys walks the document and verifies every key against root.
func checkKeys(data []byte, root *schema) ([]string, error) {
	p := &unstable.Parser{}
	p.Reset(data)
	w := &walker{p: p}
	cur, curPath, curOK := root, []string(nil), true
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			s, path, cont, err := w.walkKey(root, nil, e.Key())
			if err != nil {
				return nil, err
			}
			cur, curPath, curOK = s, path, cont
		case unstable.KeyValue:
			if !curOK {
				continue
			}
			if err := w.walkKeyValue(cur, curPath, e); err != nil {
				return nil, err
			}
		}
	}
	if err := p.Error(); err != nil {
		var pe *unstable.ParserError
		if errors.As(err, &pe) {
			if pos, ok := position(p, pe.Highlight); ok {
				return nil, &Error{Line: pos.Line, Column: pos.Column, Msg: pe.Message}
			}
			return nil, &Error{Msg: pe.Message}
		}
		return nil, &Error{Msg: cleanMsg(err.Error())}
	}
	sort.Strings(w.warnings)
	return dedupe(w.warnings), nil
}

// position locates b, which should be a subslice of the parser's input.
func position(p *unstable.Parser, b []byte) (pos unstable.Position, ok bool) {
	data := p.Data()
	if len(b) == 0 && cap(b) == 0 {
		return pos, false
	}
	off := cap(data) - cap(b)
	if off < 0 || off+len(b) > len(data) {
		return pos, false
	}
	return p.Shape(p.Range(b)).Start, true
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
