package tomlstrict

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

type color string

func (color) TOMLEnum() []string { return []string{"red", "green", "blue"} }

type item struct {
	Name  string `toml:"name"`
	Color color  `toml:"color"`
}

type extra struct {
	Known string `toml:"known"`
}

type doc struct {
	Title   string            `toml:"title"`
	Dashed  []string          `toml:"dashed-key"`
	Items   []item            `toml:"items"`
	Colors  []color           `toml:"colors"`
	Labels  map[string]string `toml:"labels"`
	Extra   *extra            `toml:"extra" tomlstrict:"lenient"`
	Nested  *struct{ A int }  `toml:"nested"`
	Skipped string            `toml:"-"`
	NoTag   string
	private string //nolint:unused // unexported fields are ignored
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantErr  string
		wantLine int
		wantCol  int
		wantWarn []string
		check    func(t *testing.T, d *doc)
	}{
		{name: "all known keys", in: "title = \"x\"\ndashed-key = [\"a\"]\ncolors = [\"red\"]\nNoTag = \"n\"\n[labels]\nanything = \"goes\"\n[[items]]\nname = \"i\"\ncolor = \"blue\"\n",
			check: func(t *testing.T, d *doc) {
				if d.Title != "x" || len(d.Items) != 1 || d.Items[0].Color != "blue" || d.Labels["anything"] != "goes" || d.NoTag != "n" {
					t.Errorf("decoded %+v", d)
				}
			}},
		{name: "unknown top-level key", in: "title = \"x\"\ntitel = \"y\"\n", wantErr: "unknown field `titel`", wantLine: 2, wantCol: 1},
		{name: "case-sensitive", in: "Title = \"x\"\n", wantErr: "unknown field `Title`", wantLine: 1, wantCol: 1},
		{name: "expected list", in: "zzz = 1\n", wantErr: "expected one of `title`, `dashed-key`, `items`, `colors`, `labels`, `extra`, `nested`, `NoTag`"},
		{name: "skipped field is unknown", in: "- = 1\n", wantErr: "unknown field `-`"},
		{name: "unknown key in array of tables", in: "[[items]]\nname = \"a\"\n[[items]]\nnmae = \"b\"\n", wantErr: "unknown field `nmae`, expected `name` or `color`", wantLine: 4, wantCol: 1},
		{name: "unknown key in inline table in array", in: "items = [{name = \"a\"}, {name = \"b\", size = 2}]\n", wantErr: "unknown field `size`", wantLine: 1, wantCol: 37},
		{name: "dotted key", in: "nested.A = 1\nnested.B = 2\n", wantErr: "unknown field `B`, expected `A`", wantLine: 2, wantCol: 8},
		{name: "quoted key", in: "\"title\" = \"x\"\n\"ti.tle\" = 1\n", wantErr: "unknown field `ti.tle`", wantLine: 2},
		{name: "unknown table header", in: "[nope.deeper]\nx = 1\n", wantErr: "unknown field `nope`", wantLine: 1, wantCol: 2},
		{name: "enum value", in: "colors = [\"red\",\n  \"purple\"]\n", wantErr: "unknown variant `purple`, expected one of `red`, `green`, `blue`", wantLine: 2, wantCol: 3},
		{name: "enum type", in: "[[items]]\ncolor = 7\n", wantErr: "invalid type for `items.color`: found integer, expected a string", wantLine: 2, wantCol: 9},
		{name: "lenient table warns", in: "[extra]\nknown = \"k\"\nnew = 1\nnew2.deep = 2\n", wantWarn: []string{"extra.new", "extra.new2"},
			check: func(t *testing.T, d *doc) {
				if d.Extra == nil || d.Extra.Known != "k" {
					t.Errorf("lenient table not decoded: %+v", d.Extra)
				}
			}},
		{name: "lenient inline table warns", in: "extra = { other = 1 }\n", wantWarn: []string{"extra.other"}},
		{name: "type mismatch has position", in: "\ntitle = [1]\n", wantErr: "invalid type for `title`: found array, expected a string", wantLine: 2, wantCol: 9},
		{name: "syntax error has position", in: "title = \"x\"\ntitle2 = \n", wantErr: "", wantLine: 2},
		{name: "comments inside arrays", in: "colors = [ # c\n  \"red\", # r\n  \"blue\" # b\n] # end\n",
			check: func(t *testing.T, d *doc) {
				if !slices.Equal(d.Colors, []color{"red", "blue"}) {
					t.Errorf("colors %q", d.Colors)
				}
			}},
		{name: "invalid UTF-8", in: "title = \"\xfe\"", wantErr: "valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doc
			w, err := Decode([]byte(tt.in), &d)
			if tt.wantErr != "" || tt.wantLine != 0 {
				if err == nil {
					t.Fatalf("no error, want %q", tt.wantErr)
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error %T is not *Error", err)
				}
				if !strings.Contains(e.Msg, tt.wantErr) {
					t.Errorf("message %q does not contain %q", e.Msg, tt.wantErr)
				}
				if tt.wantLine != 0 && e.Line != tt.wantLine || tt.wantCol != 0 && e.Column != tt.wantCol {
					t.Errorf("position %d:%d, want %d:%d (%v)", e.Line, e.Column, tt.wantLine, tt.wantCol, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(w, tt.wantWarn) {
				t.Errorf("warnings %q, want %q", w, tt.wantWarn)
			}
			if tt.check != nil {
				tt.check(t, &d)
			}
		})
	}
}

func TestDecodeTarget(t *testing.T) {
	var s string
	if _, err := Decode([]byte(""), &s); err == nil {
		t.Error("Decode into *string succeeded")
	}
	if _, err := Decode([]byte(""), doc{}); err == nil {
		t.Error("Decode into a non-pointer succeeded")
	}
}

func TestErrorString(t *testing.T) {
	if got := (&Error{Line: 3, Column: 4, Msg: "m"}).Error(); got != "line 3, column 4: m" {
		t.Errorf("got %q", got)
	}
	if got := (&Error{Msg: "m"}).Error(); got != "m" {
		t.Errorf("got %q", got)
	}
}

func TestExpected(t *testing.T) {
	tests := []struct {
		names []string
		want  string
	}{
		{nil, "there are no fields"},
		{[]string{"a"}, "expected `a`"},
		{[]string{"a", "b"}, "expected `a` or `b`"},
		{[]string{"a", "b", "c"}, "expected one of `a`, `b`, `c`"},
	}
	for _, tt := range tests {
		if got := (&schema{names: tt.names}).expected(); got != tt.want {
			t.Errorf("expected(%q) = %q, want %q", tt.names, got, tt.want)
		}
	}
}
