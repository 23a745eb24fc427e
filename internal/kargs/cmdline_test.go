package kargs

import (
	"slices"
	"testing"
)

func strs(c Cmdline) []string { return c.Strings() }

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"whitespace only", " \t\n ", nil},
		{"simple (kernel params.c example)", "foo=bar,bar2 baz=fuz wiz", []string{"foo=bar,bar2", "baz=fuz", "wiz"}},
		{"extra whitespace", "  foo=bar    baz=fuz  wiz   ", []string{"foo=bar", "baz=fuz", "wiz"}},
		{"quoted value with space", `foo="bar baz" qux`, []string{`foo="bar baz"`, "qux"}},
		{"whole argument quoted", `"thisarg=quoted with spaces" rw`, []string{`"thisarg=quoted with spaces"`, "rw"}},
		{"unclosed quote runs to the end", `a foo="x y z`, []string{"a", `foo="x y z`}},
		{"tabs, newlines, form feed, CR split", "a\tb\nc\fd\re", []string{"a", "b", "c", "d", "e"}},
		{"vertical tab does not split", "a\vb", []string{"a\vb"}},
		{"duplicate keys kept", "console=ttyS0 console=tty0", []string{"console=ttyS0", "console=tty0"}},
		{"BLS options line", "root=UUID=abc rw ostree=/ostree/boot.1/default/0123/0 quiet",
			[]string{"root=UUID=abc", "rw", "ostree=/ostree/boot.1/default/0123/0", "quiet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strs(Parse(tt.in))
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Parse(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseArg(t *testing.T) {
	tests := []struct {
		in     string
		want   Arg
		wantOK bool
	}{
		{"foo", "foo", true},
		{"foo=bar baz", "foo=bar", true},
		{"  foo=bar  ", "foo=bar", true},
		{"foo bar=baz", "foo", true},
		{"", "", false},
		{"   ", "", false},
	}
	for _, tt := range tests {
		got, ok := ParseArg(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseArg(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestArgKeyValue(t *testing.T) {
	tests := []struct {
		in       Arg
		key      string
		value    string
		hasValue bool
	}{
		{"foo", "foo", "", false},
		{"bar=baz", "bar", "baz", true},
		{"foo=", "foo", "", true},
		{"root=UUID=abc", "root", "UUID=abc", true},
		{`foo="quoted value"`, "foo", "quoted value", true},
		{`foo="unclosed quotes`, "foo", "unclosed quotes", true},
		{`foo=trailing_quotes"`, "foo", "trailing_quotes", true},
		{`"foo=quoted value"`, "foo", "quoted value", true},
		// Quoting only the key leaves the closing quote in the key.
		{`"foo"=bar`, `foo"`, "bar", true},
		// Closing the quote right after '=' removes it.
		{`"foo="bar`, "foo", "bar", true},
		// Only the outermost quotes go.
		{`foo="internal"quotes"are"ok"`, "foo", `internal"quotes"are"ok`, true},
		{`"`, "", "", false},
		{"foo=\xff", "foo", "\xff", true},
	}
	for _, tt := range tests {
		if k := tt.in.Key(); k != tt.key {
			t.Errorf("%q.Key() = %q, want %q", tt.in, k, tt.key)
		}
		v, ok := tt.in.Value()
		if v != tt.value || ok != tt.hasValue {
			t.Errorf("%q.Value() = %q, %v; want %q, %v", tt.in, v, ok, tt.value, tt.hasValue)
		}
	}
}

func TestArgEqual(t *testing.T) {
	tests := []struct {
		a, b Arg
		want bool
	}{
		{"foo", "foobar", false},
		{"foobar", "foo", false},
		{"a-delimited-param", "a_delimited_param", true},
		{"a-delimited-param=same_values", "a_delimited_param=same_values", true},
		{"a-delimited-param=different_values", "a_delimited_param=DiFfErEnT_valUEZ", false},
		{"same_key", "same_key=but_with_a_value", false},
		{"foo", "foo=", false},
		{"FOO", "foo", false},
		{`"foo=quoted value"`, `foo="quoted value"`, true},
		{`"foo"=bar`, "foo=bar", false},
		{`"foo="bar`, "foo=bar", true},
		// Dashes in values are significant.
		{"a=b-c", "a=b_c", false},
		{"console=ttyS0", "console=tty0", false},
	}
	for _, tt := range tests {
		if got := tt.a.Equal(tt.b); got != tt.want {
			t.Errorf("%q.Equal(%q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := tt.b.Equal(tt.a); got != tt.want {
			t.Errorf("%q.Equal(%q) = %v, want %v (symmetry)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestFindValue(t *testing.T) {
	c := Parse("foo=bar baz=qux switch a-b=1 a_b=2 dash-key=value1 under_key=value2")
	tests := []struct {
		key    string
		want   string
		wantOK bool
	}{
		{"foo", "bar", true},
		{"baz", "qux", true},
		{"switch", "", false},
		{"missing", "", false},
		{"a_b", "1", true},
		{"a-b", "1", true},
		{"dash_key", "value1", true},
		{"under-key", "value2", true},
	}
	for _, tt := range tests {
		got, ok := c.Value(tt.key)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Value(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.wantOK)
		}
	}
	if a, ok := Parse("a_b=2 a-b=1").Find("a-b"); !ok || a != "a_b=2" {
		t.Errorf("Find returned %q, %v; want the first match a_b=2", a, ok)
	}
	if _, ok := c.Find("nothing"); ok {
		t.Error("Find(nothing) found something")
	}
}

func TestAddExtend(t *testing.T) {
	c := Parse("console=tty0 console=ttyS1")
	if !c.Add("console=ttyS2") {
		t.Error("Add(console=ttyS2) = false for a new value of an existing key")
	}
	if c.Add("console=ttyS1") {
		t.Error("Add(console=ttyS1) = true for an exact duplicate")
	}
	if c.Add("console=\"ttyS1\"") {
		t.Error("Add of a quoted equal argument = true")
	}
	if !c.Add("quiet") {
		t.Error("Add(quiet) = false")
	}
	want := []string{"console=tty0", "console=ttyS1", "console=ttyS2", "quiet"}
	if got := strs(c); !slices.Equal(got, want) {
		t.Errorf("after Add: %q, want %q", got, want)
	}

	var empty Cmdline
	empty.Add("foo")
	if empty.String() != "foo" {
		t.Errorf("Add to empty: %q", empty.String())
	}

	tests := []struct {
		base, other string
		want        []string
	}{
		{"foo=bar baz", "qux=quux foo=updated", []string{"foo=bar", "baz", "qux=quux", "foo=updated"}},
		{"", "foo=bar baz", []string{"foo=bar", "baz"}},
		{"a b", "b a c c", []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		c := Parse(tt.base)
		c.Extend(Parse(tt.other))
		if got := strs(c); !slices.Equal(got, tt.want) {
			t.Errorf("%q.Extend(%q) = %q, want %q", tt.base, tt.other, got, tt.want)
		}
	}
}

func TestRemove(t *testing.T) {
	tests := []struct {
		name        string
		base        string
		op          func(*Cmdline) bool
		want        []string
		wantRemoved bool
	}{
		{"key", "foo bar baz", func(c *Cmdline) bool { return c.RemoveKey("bar") }, []string{"foo", "baz"}, true},
		{"missing key", "foo baz", func(c *Cmdline) bool { return c.RemoveKey("missing") }, []string{"foo", "baz"}, false},
		{"key with duplicates", "a=1 b=2 a=3", func(c *Cmdline) bool { return c.RemoveKey("a") }, []string{"b=2"}, true},
		{"key dash-insensitive", "a-b=1 c a_b", func(c *Cmdline) bool { return c.RemoveKey("a_b") }, []string{"c"}, true},
		{"exact", "foo foo=bar foo=baz", func(c *Cmdline) bool { return c.RemoveExact("foo=bar") }, []string{"foo", "foo=baz"}, true},
		{"exact missing", "foo foo=baz", func(c *Cmdline) bool { return c.RemoveExact("foo=wuz") }, []string{"foo", "foo=baz"}, false},
		{"exact all occurrences", "x=1 y x=1", func(c *Cmdline) bool { return c.RemoveExact("x=1") }, []string{"y"}, true},
		{"exact quoted", `a "b=c d"`, func(c *Cmdline) bool { return c.RemoveExact(`b="c d"`) }, []string{"a"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Parse(tt.base)
			removed := tt.op(&c)
			if got := strs(c); !slices.Equal(got, tt.want) || removed != tt.wantRemoved {
				t.Errorf("got %q, removed %v; want %q, %v", got, removed, tt.want, tt.wantRemoved)
			}
		})
	}
}

// TestDelete is upstream's install.rs test_delete_kargs plus edge cases.
func TestDelete(t *testing.T) {
	c := Parse("console=tty0 quiet debug nosmt foo=bar foo=baz bar=baz")
	for _, d := range []string{"foo=bar", "bar", "debug"} {
		c.Delete(d)
	}
	want := []string{"console=tty0", "quiet", "nosmt", "foo=baz"}
	if got := strs(c); !slices.Equal(got, want) {
		t.Errorf("after deletes: %q, want %q", got, want)
	}
	c = Parse("foo foo= foo=x")
	c.Delete("foo=")
	if got, want := strs(c), []string{"foo", "foo=x"}; !slices.Equal(got, want) {
		t.Errorf("Delete(foo=) = %q, want %q", got, want)
	}
	if c.Delete("  ") {
		t.Error("Delete of an empty spec removed something")
	}
	c = Parse("a b c")
	c.Delete("b c") // only the first argument of the spec counts
	if got, want := strs(c), []string{"a", "c"}; !slices.Equal(got, want) {
		t.Errorf("Delete(\"b c\") = %q, want %q", got, want)
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`foo bar-with-delim="with spaces"`, `"bar_with_delim=with spaces" foo`, true},
		{"foo", "foo foo", false},
		{"foo foo", "foo", false},
		{"a a b", "a b b", false},
		{"", "", true},
		{"a b c", "c b a", true},
	}
	for _, tt := range tests {
		if got := Equal(Parse(tt.a), Parse(tt.b)); got != tt.want {
			t.Errorf("Equal(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestStringAndClone(t *testing.T) {
	c := Parse(`  a   b="x y"  c `)
	if got := c.String(); got != `a b="x y" c` {
		t.Errorf("String() = %q", got)
	}
	d := c.Clone()
	d[0] = "z"
	if c[0] != "a" {
		t.Error("Clone shares storage")
	}
	if Cmdline(nil).Clone() != nil {
		t.Error("Clone(nil) != nil")
	}
}

func TestRustArch(t *testing.T) {
	tests := map[string]string{
		"amd64":   "x86_64",
		"arm64":   "aarch64",
		"ppc64le": "powerpc64",
		"ppc64":   "powerpc64",
		"s390x":   "s390x",
		"riscv64": "riscv64",
		"386":     "x86",
		"loong64": "loongarch64",
		"arm":     "arm",
		"unknown": "unknown",
	}
	for in, want := range tests {
		if got := RustArch(in); got != want {
			t.Errorf("RustArch(%q) = %q, want %q", in, got, want)
		}
	}
	if Arch == "" {
		t.Error("Arch is empty")
	}
}
